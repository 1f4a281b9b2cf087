import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { IKclConsumerMetrics } from './kcl-consumer-metrics';

/** What the alarms are built from: the consumer's metrics and its record-age limits. */
export interface KclConsumerAlarmsProps {
  readonly consumer: IKclConsumerMetrics;
  readonly streamRetentionPeriod: Duration;
  readonly maxRecordAge: Duration;
  /** What the on-failure destination is ('queue', 'topic', 'bucket'); undefined without one. */
  readonly destination?: string;
  /** Whether the runtime's metrics reach the consumer's namespace (see KclConsumerProps.runtimeMetrics). */
  readonly runtimeMetrics: boolean;
}

/** Periods in a row with records arriving and none reaching the processor before the stall alarm fires. */
export const STALLED_PERIODS = 3;

/**
 * The construct's default alarms, created in `scope`, in creation order.
 *
 * Each discard alarm counts discards per 5-minute period (Sum ≥ 1, one period)
 * and treats missing data as not breaching: the ESM emits these counts only
 * when something is discarded, so the alarm goes back to OK in the next quiet
 * period and every new discard is a new ALARM transition that notifies again.
 */
export function createConsumerAlarms(scope: Construct, props: KclConsumerAlarmsProps): cloudwatch.Alarm[] {
  const { consumer, streamRetentionPeriod, maxRecordAge, destination, runtimeMetrics } = props;
  const name = consumer.applicationName;
  const alarms: cloudwatch.Alarm[] = [];
  const atLeastOnce = (id: string, metric: cloudwatch.Metric, alarmDescription: string): cloudwatch.Alarm =>
    metric.createAlarm(scope, id, atLeastOnceOptions(alarmDescription));

  // Fire while there is time to act: before half the retention is gone, and
  // before Lambda starts discarding records at maxRecordAge.
  const iteratorAgeThreshold = Math.min(
    streamRetentionPeriod.toMilliseconds() / 2,
    Math.floor((maxRecordAge.toMilliseconds() * 2) / 3),
  );
  alarms.push(
    consumer.metricIteratorAge().createAlarm(scope, 'IteratorAgeAlarm', {
      alarmDescription: `${name}: records are ${Duration.millis(iteratorAgeThreshold).toHumanString()} old; the stream keeps them ${streamRetentionPeriod.toHumanString()} and Lambda discards them at ${maxRecordAge.toHumanString()}.`,
      threshold: iteratorAgeThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  );
  alarms.push(
    atLeastOnce(
      'ErrorsAlarm',
      consumer.metricErrors(),
      `${name}: the function threw or timed out; Lambda retries the batch.`,
    ),
  );
  if (runtimeMetrics) {
    alarms.push(
      atLeastOnce(
        'RecordsFailedAlarm',
        consumer.metricRecordsFailed(),
        `${name}: the processor failed records (partial batch failures); Lambda retries the shard from the first of them.`,
      ),
    );
  }
  alarms.push(
    atLeastOnce(
      'DroppedEventsAlarm',
      consumer.metricDroppedEvents(),
      destination
        ? `${name}: Lambda discarded records and could not deliver their on-failure record to the ${destination}; their shard and sequence numbers are lost.`
        : `${name}: Lambda discarded records (retries or maxRecordAge exhausted); there is no on-failure destination to name them.`,
    ),
  );
  if (destination) {
    alarms.push(
      atLeastOnce(
        'OnFailureDeliveredAlarm',
        consumer.metricOnFailureDeliveredEvents(),
        `${name}: Lambda discarded records; the on-failure ${destination} names their shard and sequence numbers.`,
      ),
    );
    alarms.push(
      atLeastOnce(
        'DestinationDeliveryFailuresAlarm',
        consumer.metricDestinationDeliveryFailures(),
        `${name}: Lambda could not deliver an on-failure record to the ${destination} (permissions, key policy or size).`,
      ),
    );
  }
  alarms.push(
    stalledExpression(consumer, runtimeMetrics).createAlarm(scope, 'StalledAlarm', {
      alarmDescription:
        `${name}: records arrived in the stream for ${STALLED_PERIODS * 5} minutes and none reached the processor ` +
        '(mapping disabled or not polling, function throttled, or failing before the runtime starts).',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: STALLED_PERIODS,
      datapointsToAlarm: STALLED_PERIODS,
      // No data at all means no records arrived: an idle stream is not a stalled consumer.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  );
  return alarms;
}

function atLeastOnceOptions(alarmDescription: string): cloudwatch.CreateAlarmOptions {
  return {
    alarmDescription,
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  };
}

/**
 * 1 in a period where the stream took records but the processor got none:
 * the runtime's KinesisRecords (what reached the processor; the mapping's
 * InvokedEventCount when the runtime's metrics go elsewhere) plus the
 * mapping's FilteredOutEventCount (records filters dropped on purpose) is zero
 * while the stream's IncomingRecords is not. FILL turns a series with no data
 * in a period into 0, since these counts are absent, not zero, when nothing happens.
 */
export function stalledExpression(consumer: IKclConsumerMetrics, runtimeMetrics = true): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(FILL(incoming, 0) > 0 AND FILL(delivered, 0) + FILL(filtered, 0) == 0, 1, 0)',
    usingMetrics: {
      incoming: consumer.metricIncomingRecords(),
      delivered: runtimeMetrics ? consumer.metricKinesisRecords() : consumer.metricInvokedEvents(),
      filtered: consumer.metricFilteredOutEvents(),
    },
    label: 'Stalled (records arrived, none reached the processor)',
    period: Duration.minutes(5),
  });
}
