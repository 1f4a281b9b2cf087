import { RuntimeEnvironment as RuntimeVariables } from '../lambda/runtime-environment';

/**
 * The environment variables the runtime reads, which the construct writes into
 * the function. The names come from the runtime's own list (a test keeps this
 * class and that list the same); a class of constants, not the runtime's object,
 * so the construct's API stays jsii-compatible.
 */
export class RuntimeEnvironment {
  /** Name of the DynamoDB checkpoint (lease) table. */
  public static readonly CHECKPOINT_TABLE: string = RuntimeVariables.CHECKPOINT_TABLE;
  /** KCL application name: a metric dimension and a log field. */
  public static readonly APPLICATION_NAME: string = RuntimeVariables.APPLICATION_NAME;
  /** CloudWatch namespace of the runtime's EMF metrics. */
  public static readonly METRICS_NAMESPACE: string = RuntimeVariables.METRICS_NAMESPACE;
  /** The event source mapping's starting position: judges parent shards Lambda never delivered from. */
  public static readonly STARTING_POSITION: string = RuntimeVariables.STARTING_POSITION;
  /** With AT_TIMESTAMP: the time, in epoch seconds. */
  public static readonly STARTING_POSITION_TIMESTAMP: string = RuntimeVariables.STARTING_POSITION_TIMESTAMP;
  /** How lease rows are keyed: `shardId` (default) or `multiStream` (see `LeaseKeys`). */
  public static readonly LEASE_KEYS: string = RuntimeVariables.LEASE_KEYS;
  /** With multi-stream keys: KCL's stream identifier `account:streamName:creationEpoch`, instead of deriving it. */
  public static readonly STREAM_IDENTIFIER: string = RuntimeVariables.STREAM_IDENTIFIER;
  /** The event source mapping's MaximumRecordAgeInSeconds: a parent's records older than it no longer block its children. */
  public static readonly MAX_RECORD_AGE_SECONDS: string = RuntimeVariables.MAX_RECORD_AGE_SECONDS;

  private constructor() {}
}
