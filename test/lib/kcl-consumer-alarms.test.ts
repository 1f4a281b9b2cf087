import { Duration } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { OnFailureDestination } from '../../lib';
import { ref, synthesizeConsumer, type Synthesized } from './kcl-consumer-helpers';

/** The alarm whose logical id starts with the construct's `Consumer<id>`. */
function alarm(synthesized: Synthesized, id: string): Record<string, any> {
  const alarms = synthesized.template.findResources('AWS::CloudWatch::Alarm');
  const logicalId = synthesized.stack.getLogicalId(
    synthesized.consumer.node.findChild(id).node.defaultChild as import('aws-cdk-lib').CfnElement,
  );
  return alarms[logicalId].Properties;
}

describe('KclConsumer alarms', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synthesizeConsumer();
  });

  test('one alarm per failure mode, in a fixed order', () => {
    expect(synthesized.consumer.alarms.map((a) => a.node.id)).toEqual([
      'IteratorAgeAlarm',
      'ErrorsAlarm',
      'RecordsFailedAlarm',
      'DroppedEventsAlarm',
      'OnFailureDeliveredAlarm',
      'DestinationDeliveryFailuresAlarm',
      'StalledAlarm',
    ]);
  });

  test("RecordsFailed: the runtime's partial batch failures, Sum ≥ 1 in 5 minutes", () => {
    expect(alarm(synthesized, 'RecordsFailedAlarm')).toEqual({
      AlarmDescription:
        'Test-Consumer: the processor failed records (partial batch failures); Lambda retries the shard from the first of them.',
      Namespace: 'KclLambda',
      MetricName: 'RecordsFailed',
      Dimensions: [{ Name: 'ApplicationName', Value: 'Test-Consumer' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  test('Errors: the function threw or timed out, Sum ≥ 1 in 5 minutes', () => {
    const { stack, consumer } = synthesized;
    expect(alarm(synthesized, 'ErrorsAlarm')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(stack, consumer.function) }],
      Statistic: 'Sum',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  test('discard alarms say where the records are named, and that dropped ones are named nowhere', () => {
    expect(alarm(synthesized, 'OnFailureDeliveredAlarm').AlarmDescription).toBe(
      'Test-Consumer: Lambda discarded records; the on-failure queue names their shard and sequence numbers.',
    );
    expect(alarm(synthesized, 'DroppedEventsAlarm').AlarmDescription).toMatch(
      /could not deliver their on-failure record to the queue; their shard and sequence numbers are lost/,
    );
    const none = synthesizeConsumer(() => ({ onFailure: OnFailureDestination.none() }));
    expect(alarm(none, 'DroppedEventsAlarm').AlarmDescription).toMatch(/there is no on-failure destination/);
  });

  test('stalled: records arrived for 3 periods in a row and none reached the processor or a filter', () => {
    const { stack, consumer } = synthesized;
    const properties = alarm(synthesized, 'StalledAlarm');
    expect(properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      // No data means no records arrived: an idle stream is not a stall.
      TreatMissingData: 'notBreaching',
    });
    const metrics = properties.Metrics as Array<Record<string, any>>;
    expect(metrics[0]).toMatchObject({
      Expression: 'IF(FILL(incoming, 0) > 0 AND FILL(delivered, 0) + FILL(filtered, 0) == 0, 1, 0)',
      ReturnData: true,
    });
    const stat = (id: string) => metrics.find((m) => m.Id === id)!.MetricStat;
    expect(stat('incoming')).toEqual({
      Metric: {
        Namespace: 'AWS/Kinesis',
        MetricName: 'IncomingRecords',
        Dimensions: [{ Name: 'StreamName', Value: ref(stack, consumer.stream) }],
      },
      Period: 300,
      Stat: 'Sum',
    });
    expect(stat('delivered')).toEqual({
      Metric: {
        Namespace: 'KclLambda',
        MetricName: 'KinesisRecords',
        Dimensions: [{ Name: 'ApplicationName', Value: 'Test-Consumer' }],
      },
      Period: 300,
      Stat: 'Sum',
    });
    expect(stat('filtered')).toEqual({
      Metric: {
        Namespace: 'AWS/Lambda',
        MetricName: 'FilteredOutEventCount',
        Dimensions: [{ Name: 'EventSourceMappingUUID', Value: stack.resolve(consumer.eventSourceMappingId) }],
      },
      Period: 300,
      Stat: 'Sum',
    });
    expect(metrics.filter((m) => m.ReturnData !== false)).toHaveLength(1);
  });

  test('the stalled alarm reads the runtime metrics of a custom namespace and application name', () => {
    const custom = synthesizeConsumer(() => ({ applicationName: 'orders', metricsNamespace: 'Orders/Kcl' }));
    const delivered = (alarm(custom, 'StalledAlarm').Metrics as Array<Record<string, any>>).find(
      (m) => m.Id === 'delivered',
    );
    expect(delivered!.MetricStat.Metric).toEqual({
      Namespace: 'Orders/Kcl',
      MetricName: 'KinesisRecords',
      Dimensions: [{ Name: 'ApplicationName', Value: 'orders' }],
    });
  });

  test("runtimeMetrics: false (metrics: false or Powertools in the handler): the stall alarm counts the mapping's invocations, no RecordsFailed alarm", () => {
    const elsewhere = synthesizeConsumer(() => ({ runtimeMetrics: false }));
    expect(elsewhere.consumer.alarms.map((a) => a.node.id)).not.toContain('RecordsFailedAlarm');
    const delivered = (alarm(elsewhere, 'StalledAlarm').Metrics as Array<Record<string, any>>).find(
      (m) => m.Id === 'delivered',
    );
    expect(delivered!.MetricStat.Metric).toEqual({
      Namespace: 'AWS/Lambda',
      MetricName: 'InvokedEventCount',
      Dimensions: [
        { Name: 'EventSourceMappingUUID', Value: elsewhere.stack.resolve(elsewhere.consumer.eventSourceMappingId) },
      ],
    });
    // Nothing else reads the runtime's namespace.
    expect(JSON.stringify(elsewhere.template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('KclLambda');
  });

  test('alarmAction is on every alarm, the math one and the optional MillisBehindLatest one included', () => {
    const withAction = synthesizeConsumer((stack) => ({
      alarmAction: new sns.Topic(stack, 'Oncall'),
      millisBehindLatestAlarm: Duration.minutes(5),
    }));
    const topic = ref(withAction.stack, withAction.stack.node.findChild('Oncall'));
    const alarms = Object.values(withAction.template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(8);
    for (const each of alarms) expect(each.Properties.AlarmActions).toEqual([topic]);
  });

  test('metric helpers name the mapping by its UUID', () => {
    const { stack, consumer } = synthesized;
    for (const [metric, name] of [
      [consumer.metricDroppedEvents(), 'DroppedEventCount'],
      [consumer.metricOnFailureDeliveredEvents(), 'OnFailureDestinationDeliveredEventCount'],
      [consumer.metricFilteredOutEvents(), 'FilteredOutEventCount'],
      [consumer.metricPolledEvents(), 'PolledEventCount'],
      [consumer.metricInvokedEvents(), 'InvokedEventCount'],
    ] as const) {
      expect(metric.metricName).toBe(name);
      expect(metric.namespace).toBe('AWS/Lambda');
      expect(stack.resolve(metric.dimensions)).toEqual({ EventSourceMappingUUID: stack.resolve(consumer.eventSourceMappingId) });
      expect(metric.statistic).toBe('Sum');
    }
  });
});
