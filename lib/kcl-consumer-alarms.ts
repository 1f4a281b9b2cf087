import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { IKclConsumerMetrics } from './kcl-consumer-metrics';

/** What the alarms are built from: the consumer's metrics and its record-age limits. */
export interface KclConsumerAlarmsProps {
  readonly consumer: IKclConsumerMetrics;
  readonly streamRetentionPeriod: Duration;
  readonly maxRecordAge: Duration;
}

/** The construct's default alarms, created in `scope`; returned in creation order. */
export function createConsumerAlarms(scope: Construct, props: KclConsumerAlarmsProps): cloudwatch.Alarm[] {
  const { consumer, streamRetentionPeriod, maxRecordAge } = props;
  const alarms: cloudwatch.Alarm[] = [];
  // Fire while there is time to act: before half the retention is gone, and
  // before Lambda starts discarding records at maxRecordAge.
  const iteratorAgeThreshold = Math.min(
    streamRetentionPeriod.toMilliseconds() / 2,
    Math.floor((maxRecordAge.toMilliseconds() * 2) / 3),
  );
  alarms.push(
    consumer.metricIteratorAge().createAlarm(scope, 'IteratorAgeAlarm', {
      alarmDescription: `${consumer.applicationName}: records are ${Duration.millis(iteratorAgeThreshold).toHumanString()} old; the stream keeps them ${streamRetentionPeriod.toHumanString()} and Lambda discards them at ${maxRecordAge.toHumanString()}.`,
      threshold: iteratorAgeThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  );
  alarms.push(
    consumer.metricErrors().createAlarm(scope, 'ErrorsAlarm', {
      alarmDescription: `${consumer.applicationName}: the function threw or timed out; Lambda retries the batch.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  );
  const queueDepth = consumer.metricOnFailureQueueDepth();
  if (queueDepth) {
    alarms.push(
      queueDepth.createAlarm(scope, 'OnFailureQueueAlarm', {
        alarmDescription: `${consumer.applicationName}: Lambda discarded records; the queue names their shard and sequence numbers.`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
  return alarms;
}
