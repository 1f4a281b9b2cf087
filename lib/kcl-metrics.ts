import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/** The CloudWatch namespace the runtime publishes its metrics in unless told otherwise. */
export { DEFAULT_METRICS_NAMESPACE } from '../lambda/runtime-environment';

/**
 * The metrics the runtime publishes in Embedded Metric Format, one flush per
 * invocation, under the dimension sets [ApplicationName, ShardId] and
 * [ApplicationName]. The construct reads the application-wide set.
 */
export const KclMetricName = {
  /** Kinesis records delivered by Lambda (before de-aggregation). Count. */
  KINESIS_RECORDS: 'KinesisRecords',
  /** Bytes of Kinesis record data delivered. Bytes. */
  KINESIS_BYTES: 'KinesisBytes',
  /** User records handed to the processor after KPL de-aggregation. Count. */
  USER_RECORDS: 'UserRecords',
  /** User records at or below the checkpoint, skipped as replays. Count. */
  DUPLICATES_SKIPPED: 'DuplicatesSkipped',
  /** Records reported to Lambda as batch item failures. Count. */
  RECORDS_FAILED: 'RecordsFailed',
  /** Estimated from the last record's arrival time. Milliseconds. */
  MILLIS_BEHIND_LATEST: 'MillisBehindLatest',
  /** Time spent in the processor's processRecords. Milliseconds. */
  PROCESS_RECORDS_TIME: 'ProcessRecordsTime',
  /** Latency of the checkpoint write to DynamoDB. Milliseconds. */
  CHECKPOINT_WRITE_TIME: 'CheckpointWriteTime',
  /** Lease lost to a concurrent writer (conditional write lost). Count. */
  LEASE_LOST: 'LeaseLost',
  /** Parent shards drained and checkpointed at SHARD_END. Count. */
  SHARD_ENDED: 'ShardEnded',
} as const;

export type KclMetricName = (typeof KclMetricName)[keyof typeof KclMetricName];

/** The statistic that answers the usual question about each metric. */
const DEFAULT_STATISTIC: Record<KclMetricName, string> = {
  KinesisRecords: cloudwatch.Stats.SUM,
  KinesisBytes: cloudwatch.Stats.SUM,
  UserRecords: cloudwatch.Stats.SUM,
  DuplicatesSkipped: cloudwatch.Stats.SUM,
  RecordsFailed: cloudwatch.Stats.SUM,
  // Lag is judged by the worst shard, not the average one.
  MillisBehindLatest: cloudwatch.Stats.MAXIMUM,
  ProcessRecordsTime: cloudwatch.Stats.AVERAGE,
  CheckpointWriteTime: cloudwatch.Stats.AVERAGE,
  LeaseLost: cloudwatch.Stats.SUM,
  ShardEnded: cloudwatch.Stats.SUM,
};

/** A runtime metric for one application, with the statistic that fits it. */
export function kclMetric(
  namespace: string,
  applicationName: string,
  metricName: KclMetricName,
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace,
    metricName,
    dimensionsMap: { ApplicationName: applicationName },
    statistic: DEFAULT_STATISTIC[metricName],
    period: Duration.minutes(5),
    ...props,
  });
}
