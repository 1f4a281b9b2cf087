import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { IKclConsumerMetrics } from './kcl-consumer-metrics';

export interface KclDashboardProps {
  /** The consumer whose metrics and alarms are shown. */
  readonly consumer: IKclConsumerMetrics;
  /**
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
}

const WIDTH = 12;
const HEIGHT = 6;

/**
 * One page for a KCL consumer on Lambda: the runtime's per-application
 * metrics (the KCL worker's view) beside Lambda's IteratorAge and Errors, the
 * on-failure queue depth, the mapping's discards and the stream's arrivals.
 */
export class KclDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: KclDashboardProps) {
    super(scope, id);
    const consumer = props.consumer;
    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', {
      dashboardName: props.dashboardName,
    });

    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: WIDTH, height: HEIGHT });

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# KCL consumer ${consumer.applicationName}\n` +
          'MillisBehindLatest is estimated by the runtime from the last record\'s arrival time; ' +
          'IteratorAge is measured by Lambda.',
        width: 2 * WIDTH,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Lag (ms, worst shard)', [consumer.metricMillisBehindLatest(), consumer.metricIteratorAge()]),
      graph(
        'Records',
        [
          consumer.metricKinesisRecords(),
          consumer.metricRecordsProcessed(),
          consumer.metricDuplicatesSkipped(),
          consumer.metricRecordsFailed(),
        ],
        [consumer.metricKinesisBytes()],
      ),
    );
    this.dashboard.addWidgets(
      graph('Time (ms)', [consumer.metricProcessRecordsTime(), consumer.metricCheckpointWriteTime()]),
      graph('Shard lifecycle', [consumer.metricLeaseLost(), consumer.metricShardEnded()]),
    );
    const queueDepth = consumer.metricOnFailureQueueDepth();
    this.dashboard.addWidgets(
      graph('Function errors', [consumer.metricErrors()]),
      queueDepth
        ? graph('On-failure queue depth', [queueDepth])
        : new cloudwatch.TextWidget({
            markdown: 'No on-failure queue: discarded batches go to a topic or bucket, or nowhere.',
            width: WIDTH,
            height: HEIGHT,
          }),
    );
    this.dashboard.addWidgets(
      graph('Discards (records Lambda gave up on)', [
        consumer.metricOnFailureDeliveredEvents(),
        consumer.metricDroppedEvents(),
        consumer.metricDestinationDeliveryFailures(),
      ]),
      graph('Arrivals and polling', [consumer.metricIncomingRecords(), consumer.metricPolledEvents()]),
    );
    if (consumer.alarms.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: consumer.alarms, width: 2 * WIDTH }),
      );
    }
  }
}
