import { Duration } from 'aws-cdk-lib';
import { OnFailureDestination } from '../../lib';
import { dashboardBody, getAtt, ref, synthesizeConsumer, type Synthesized } from './kcl-consumer-helpers';

/** The runtime's metric names (its EMF contract) and the statistic each is read with. */
const RUNTIME_METRICS: Array<[string, string]> = [
  ['KinesisRecords', 'Sum'],
  ['KinesisBytes', 'Sum'],
  ['UserRecords', 'Sum'],
  ['DuplicatesSkipped', 'Sum'],
  ['RecordsFailed', 'Sum'],
  ['MillisBehindLatest', 'Maximum'],
  ['ProcessRecordsTime', 'Average'],
  ['CheckpointWriteTime', 'Average'],
  ['LeaseLost', 'Sum'],
  ['ShardEnded', 'Sum'],
];

/** Every metric line of every graph widget: [namespace, name, dim, value, ..., { stat }]. */
function graphedMetrics(body: { widgets: Array<Record<string, any>> }): unknown[][] {
  return body.widgets
    .filter((widget) => widget.type === 'metric')
    .flatMap((widget) => widget.properties.metrics as unknown[][]);
}

describe('KclConsumer dashboard', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synthesizeConsumer(() => ({
      applicationName: 'orders',
      metricsNamespace: 'Orders/Kcl',
      dashboard: true,
      millisBehindLatestAlarm: Duration.minutes(10),
    }));
  });

  test('graphs every runtime metric for the application, with its statistic', () => {
    const metrics = graphedMetrics(dashboardBody(synthesized.template));
    for (const [name, stat] of RUNTIME_METRICS) {
      const line = metrics.find((m) => m[1] === name);
      expect(line?.slice(0, 4)).toEqual(['Orders/Kcl', name, 'ApplicationName', 'orders']);
      // The dashboard leaves out the statistic when it is its default, Average.
      const options = (line?.[4] ?? {}) as { stat?: string };
      expect(options.stat ?? 'Average').toBe(stat);
    }
  });

  test("graphs Lambda's IteratorAge and Errors and the on-failure queue depth beside them", () => {
    const metrics = graphedMetrics(dashboardBody(synthesized.template));
    expect(metrics).toContainEqual(['AWS/Lambda', 'IteratorAge', 'FunctionName', 'TOKEN', { stat: 'Maximum' }]);
    expect(metrics).toContainEqual(['AWS/Lambda', 'Errors', 'FunctionName', 'TOKEN', { stat: 'Sum' }]);
    expect(metrics).toContainEqual([
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      'QueueName',
      'TOKEN',
      { stat: 'Maximum' },
    ]);
    // Lag from both sources shares one graph, so they can be compared.
    const lag = dashboardBody(synthesized.template).widgets.find((w) => w.properties.title?.startsWith('Lag'));
    expect((lag!.properties.metrics as unknown[][]).map((m) => m[1])).toEqual(['MillisBehindLatest', 'IteratorAge']);
  });

  test('shows the state of all eight alarms', () => {
    const body = dashboardBody(synthesized.template);
    const alarmWidget = body.widgets.find((w) => w.type === 'alarm');
    expect(alarmWidget!.properties.alarms).toHaveLength(8);
    expect(synthesized.consumer.dashboard).toBeDefined();
  });

  test("graphs the mapping's discards and the stream's arrivals beside the mapping's polls", () => {
    const body = dashboardBody(synthesized.template);
    const widget = (prefix: string) =>
      (body.widgets.find((w) => w.properties.title?.startsWith(prefix))!.properties.metrics as unknown[][]).map(
        (m) => [m[0], m[1], m[2]],
      );
    expect(widget('Discards')).toEqual([
      ['AWS/Lambda', 'OnFailureDestinationDeliveredEventCount', 'EventSourceMappingUUID'],
      ['AWS/Lambda', 'DroppedEventCount', 'EventSourceMappingUUID'],
      ['AWS/Lambda', 'DestinationDeliveryFailures', 'FunctionName'],
    ]);
    expect(widget('Arrivals')).toEqual([
      ['AWS/Kinesis', 'IncomingRecords', 'StreamName'],
      ['AWS/Lambda', 'PolledEventCount', 'EventSourceMappingUUID'],
    ]);
  });

  test('alarms on MillisBehindLatest (Maximum) in the namespace, for the application', () => {
    synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Orders/Kcl',
      MetricName: 'MillisBehindLatest',
      Dimensions: [{ Name: 'ApplicationName', Value: 'orders' }],
      Statistic: 'Maximum',
      Threshold: 600_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('passes the namespace to the function', () => {
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { KCL_METRICS_NAMESPACE: 'Orders/Kcl', KCL_APPLICATION_NAME: 'orders' } },
    });
  });

  test('without an on-failure queue the dashboard says so instead of graphing a queue', () => {
    const { template } = synthesizeConsumer(() => ({
      dashboard: true,
      onFailure: OnFailureDestination.none(),
      alarms: false,
    }));
    const body = dashboardBody(template);
    expect(graphedMetrics(body).some((m) => m[0] === 'AWS/SQS')).toBe(false);
    expect(body.widgets.some((w) => w.type === 'text' && /No on-failure queue/.test(w.properties.markdown))).toBe(
      true,
    );
    expect(body.widgets.some((w) => w.type === 'alarm')).toBe(false);
  });
});

describe('KclConsumer metric helpers', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synthesizeConsumer();
  });

  test.each([
    ['metricKinesisRecords', 'KinesisRecords', 'Sum'],
    ['metricKinesisBytes', 'KinesisBytes', 'Sum'],
    ['metricRecordsProcessed', 'UserRecords', 'Sum'],
    ['metricDuplicatesSkipped', 'DuplicatesSkipped', 'Sum'],
    ['metricRecordsFailed', 'RecordsFailed', 'Sum'],
    ['metricMillisBehindLatest', 'MillisBehindLatest', 'Maximum'],
    ['metricProcessRecordsTime', 'ProcessRecordsTime', 'Average'],
    ['metricCheckpointWriteTime', 'CheckpointWriteTime', 'Average'],
    ['metricLeaseLost', 'LeaseLost', 'Sum'],
    ['metricShardEnded', 'ShardEnded', 'Sum'],
  ] as const)('%s reads %s (%s) in the default namespace for the application', (helper, name, statistic) => {
    const metric = synthesized.consumer[helper]();
    expect(metric.namespace).toBe('KclLambda');
    expect(metric.metricName).toBe(name);
    expect(metric.statistic).toBe(statistic);
    expect(metric.dimensions).toEqual({ ApplicationName: 'Test-Consumer' });
    expect(metric.period.toSeconds()).toBe(300);
  });

  test('metric options override the defaults', () => {
    const metric = synthesized.consumer.metricMillisBehindLatest({ statistic: 'p99', period: Duration.minutes(1) });
    expect(metric.statistic).toBe('p99');
    expect(metric.period.toSeconds()).toBe(60);
  });

  test("metricIteratorAge and metricErrors read Lambda's metrics for the function", () => {
    const { stack, consumer } = synthesized;
    const iteratorAge = consumer.metricIteratorAge();
    expect([iteratorAge.namespace, iteratorAge.metricName, iteratorAge.statistic]).toEqual([
      'AWS/Lambda',
      'IteratorAge',
      'Maximum',
    ]);
    expect(stack.resolve(iteratorAge.dimensions)).toEqual({ FunctionName: ref(stack, consumer.function) });
    const errors = consumer.metricErrors();
    expect([errors.namespace, errors.metricName, errors.statistic]).toEqual(['AWS/Lambda', 'Errors', 'Sum']);
  });

  test('metricOnFailureQueueDepth reads the queue, and is undefined without one', () => {
    const { stack, consumer } = synthesized;
    const depth = consumer.metricOnFailureQueueDepth()!;
    expect([depth.namespace, depth.metricName, depth.statistic]).toEqual([
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      'Maximum',
    ]);
    expect(stack.resolve(depth.dimensions)).toEqual({ QueueName: getAtt(stack, consumer.onFailureQueue!, 'QueueName') });
    const withoutQueue = synthesizeConsumer(() => ({ onFailure: OnFailureDestination.none() })).consumer;
    expect(withoutQueue.metricOnFailureQueueDepth()).toBeUndefined();
  });
});
