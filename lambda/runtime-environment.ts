/**
 * The environment variables the runtime reads. The construct (lib/) writes them
 * into the function so the handler needs no options; both take the names from here.
 */
export const RuntimeEnvironment = {
  /** Name of the DynamoDB checkpoint (lease) table. */
  CHECKPOINT_TABLE: 'KCL_CHECKPOINT_TABLE',
  /** KCL application name: a metric dimension and a log field. */
  APPLICATION_NAME: 'KCL_APPLICATION_NAME',
  /** CloudWatch namespace of the runtime's EMF metrics. */
  METRICS_NAMESPACE: 'KCL_METRICS_NAMESPACE',
  /** The event source mapping's starting position: judges parent shards Lambda never delivered from. */
  STARTING_POSITION: 'KCL_STARTING_POSITION',
  /** With AT_TIMESTAMP: the time, in epoch seconds. */
  STARTING_POSITION_TIMESTAMP: 'KCL_STARTING_POSITION_TIMESTAMP',
  /** How lease rows are keyed: `shardId` (default) or `multiStream`. */
  LEASE_KEYS: 'KCL_LEASE_KEYS',
  /** With multi-stream keys: KCL's stream identifier `account:streamName:creationEpoch`, instead of deriving it. */
  STREAM_IDENTIFIER: 'KCL_STREAM_IDENTIFIER',
  /** The event source mapping's MaximumRecordAgeInSeconds: a parent's records older than it no longer block its children. */
  MAX_RECORD_AGE_SECONDS: 'KCL_MAX_RECORD_AGE_SECONDS',
} as const;

/** The CloudWatch namespace of the runtime's metrics when none is given. */
export const DEFAULT_METRICS_NAMESPACE = 'KclLambda';
