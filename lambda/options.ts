import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { PowertoolsMetricsLike } from './observability/powertools-adapters';

/** The log calls the engine makes; console, Powertools Logger and pino all fit. */
export interface KclLogger {
  debug(message: string, ...extra: unknown[]): void;
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

export type CheckpointingMode = 'auto' | 'manual';

/** How lease rows are keyed: KCL's single-stream shard ids, or its multi-stream keys. */
export type LeaseKeyFormat = 'shardId' | 'multiStream';

export interface KclOptions {
  /**
   * The DynamoDB checkpoint (lease) table.
   * @default - the `KCL_CHECKPOINT_TABLE` environment variable
   */
  readonly tableName?: string;
  /**
   * The KCL application name, used in logs and metrics.
   * @default - the `KCL_APPLICATION_NAME` environment variable, else the function name
   */
  readonly applicationName?: string;
  /**
   * DynamoDB client for the checkpoint table.
   * @default - one client per container from the standard AWS environment
   */
  readonly dynamoDb?: DynamoDBClient;
  /**
   * Kinesis client, used only to look up shard lineage at resharding.
   * @default - one HTTP/1.1 client per container from the standard AWS environment
   */
  readonly kinesis?: KinesisClient;
  /**
   * `auto`: a successful batch is checkpointed at its last record.
   * `manual`: only the processor's own checkpoints count; records above the last
   * checkpoint are reported failed so Lambda delivers them again.
   * @default 'auto'
   */
  readonly checkpointing?: CheckpointingMode;
  /**
   * How the rows of the lease table are keyed. `shardId`: the shard id, as a
   * single-stream KCL application does. `multiStream`: KCL's multi-stream key
   * `account:streamName:creationEpoch:shardId` (with `streamName` and `shardId`
   * attributes), the account and stream name from the event's stream ARN and the
   * creation epoch (milliseconds) from DescribeStreamSummary, once per stream and container.
   * @default - the `KCL_LEASE_KEYS` environment variable (the construct sets it), else `shardId`
   */
  readonly leaseKeys?: LeaseKeyFormat;
  /**
   * With `leaseKeys: 'multiStream'`: KCL's serialized stream identifier
   * `account:streamName:creationEpoch`, exactly as the KCL application keyed its leases
   * (KCL takes the creation epoch from the application, which may have used seconds or
   * any other value). Lease keys are then `<streamIdentifier>:<shardId>` and no
   * DescribeStreamSummary call is made; a batch from another stream is refused.
   * @default - the `KCL_STREAM_IDENTIFIER` environment variable (the construct sets it), else derived (creation time in milliseconds)
   */
  readonly streamIdentifier?: string;
  /**
   * Where the event source mapping starts reading a shard nothing was checkpointed in.
   * A parent shard Lambda never delivered from is judged from here at resharding: with
   * `LATEST` its older records were never meant to be read, so they do not block its children.
   * @default - the `KCL_STARTING_POSITION` environment variable (the construct sets it), else `TRIM_HORIZON`
   */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
  /**
   * The time `AT_TIMESTAMP` starts from.
   * @default - the `KCL_STARTING_POSITION_TIMESTAMP` environment variable (epoch seconds)
   */
  readonly startingPositionTimestamp?: Date;
  /**
   * The event source mapping's `MaximumRecordAgeInSeconds`. Lambda discards older records
   * without delivering them, a parent's unread tail too: such records must not keep the
   * parent's children waiting for ever. -1: Lambda never discards by age.
   * @default - the `KCL_MAX_RECORD_AGE_SECONDS` environment variable (the construct sets it), else -1
   */
  readonly maxRecordAgeSeconds?: number;
  /**
   * Expand KPL-aggregated records into their user records.
   * @default true
   */
  readonly deaggregate?: boolean;
  /**
   * Stop delivering records this many milliseconds before the Lambda timeout.
   * @default - a share of the function timeout (see README)
   */
  readonly timeoutGuardMs?: number;
  /**
   * Where the engine logs.
   * @default - JSON lines on stdout/stderr
   */
  readonly logger?: KclLogger;
  /**
   * Per-shard metrics once per invocation. A Powertools for AWS Lambda `Metrics`
   * instance publishes them in its own namespace, with its default dimensions;
   * `false` turns them off.
   * @default - the built-in CloudWatch EMF writer on stdout
   */
  readonly metrics?: PowertoolsMetricsLike | false;
  /**
   * CloudWatch namespace of the built-in EMF writer (a Powertools instance uses its own).
   * @default - the `KCL_METRICS_NAMESPACE` environment variable, else `KclLambda`
   */
  readonly metricsNamespace?: string;
  /**
   * Publish metrics per shard (dimensions `ApplicationName`, `ShardId`) as well as
   * per application (`ApplicationName`). `false` keeps only the per-application set.
   * @default true
   */
  readonly shardMetricsDimension?: boolean;
}
