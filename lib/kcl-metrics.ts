import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { DEFAULT_METRICS_NAMESPACE } from '../lambda/runtime-environment';

/**
 * The metrics the runtime publishes in Embedded Metric Format, one flush per
 * invocation, under the dimension sets [ApplicationName, ShardId] and
 * [ApplicationName]. The construct reads the application-wide set.
 */
export enum KclMetricName {
  /** Kinesis records delivered by Lambda (before de-aggregation). Count. */
  KINESIS_RECORDS = 'KinesisRecords',
  /** Bytes of Kinesis record data delivered. Bytes. */
  KINESIS_BYTES = 'KinesisBytes',
  /** User records handed to the processor after KPL de-aggregation. Count. */
  USER_RECORDS = 'UserRecords',
  /** User records at or below the checkpoint, skipped as replays. Count. */
  DUPLICATES_SKIPPED = 'DuplicatesSkipped',
  /** Records reported to Lambda as batch item failures. Count. */
  RECORDS_FAILED = 'RecordsFailed',
  /** Estimated from the last record's arrival time. Milliseconds. */
  MILLIS_BEHIND_LATEST = 'MillisBehindLatest',
  /** Time spent in the processor's processRecords. Milliseconds. */
  PROCESS_RECORDS_TIME = 'ProcessRecordsTime',
  /** Latency of the checkpoint write to DynamoDB. Milliseconds. */
  CHECKPOINT_WRITE_TIME = 'CheckpointWriteTime',
  /** Lease lost to a concurrent writer (conditional write lost). Count. */
  LEASE_LOST = 'LeaseLost',
  /** Parent shards drained and checkpointed at SHARD_END. Count. */
  SHARD_ENDED = 'ShardEnded',
}

/** The statistic that answers the usual question about each metric. */
const DEFAULT_STATISTIC: Record<KclMetricName, string> = {
  [KclMetricName.KINESIS_RECORDS]: cloudwatch.Stats.SUM,
  [KclMetricName.KINESIS_BYTES]: cloudwatch.Stats.SUM,
  [KclMetricName.USER_RECORDS]: cloudwatch.Stats.SUM,
  [KclMetricName.DUPLICATES_SKIPPED]: cloudwatch.Stats.SUM,
  [KclMetricName.RECORDS_FAILED]: cloudwatch.Stats.SUM,
  // Lag is judged by the worst shard, not the average one.
  [KclMetricName.MILLIS_BEHIND_LATEST]: cloudwatch.Stats.MAXIMUM,
  [KclMetricName.PROCESS_RECORDS_TIME]: cloudwatch.Stats.AVERAGE,
  [KclMetricName.CHECKPOINT_WRITE_TIME]: cloudwatch.Stats.AVERAGE,
  [KclMetricName.LEASE_LOST]: cloudwatch.Stats.SUM,
  [KclMetricName.SHARD_ENDED]: cloudwatch.Stats.SUM,
};

/**
 * The runtime's metrics for any application, such as one whose function the
 * `KclConsumer` did not deploy (`KclConsumer.metric` reads its own).
 */
export class KclMetrics {
  /** The CloudWatch namespace the runtime publishes its metrics in unless told otherwise. */
  public static readonly DEFAULT_NAMESPACE: string = DEFAULT_METRICS_NAMESPACE;

  /**
   * A runtime metric of one application (dimension `ApplicationName`), with the
   * statistic that fits it and a 5-minute period; `props` override both.
   */
  public static metric(
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

  private constructor() {}
}
