import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/**
 * What a dashboard needs of a consumer: its name, its alarms and its metrics.
 * `KclConsumer` implements it; the dashboard depends on this, not on the
 * construct, so the two do not import each other.
 */
export interface IKclConsumerMetrics {
  readonly applicationName: string;
  readonly alarms: cloudwatch.Alarm[];
  metricKinesisRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricKinesisBytes(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsProcessed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDuplicatesSkipped(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricRecordsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricMillisBehindLatest(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricProcessRecordsTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCheckpointWriteTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricLeaseLost(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricShardEnded(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricOnFailureQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric | undefined;
  metricIncomingRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDroppedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricOnFailureDeliveredEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricFilteredOutEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricPolledEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricInvokedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDestinationDeliveryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}
