import { Annotations, Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { IKclConsumerMetrics } from './kcl-consumer-metrics';
import { KclDashboard } from './kcl-dashboard';
import { DEFAULT_METRICS_NAMESPACE, KclMetricName, kclMetric } from './kcl-metrics';
import { RuntimeEnvironment } from '../lambda/runtime-environment';

/** Where Lambda sends the metadata of records it discards. */
export type OnFailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket;

export interface KclConsumerProps {
  /**
   * An existing stream to consume. Give `stream` or `streamProps`, not both.
   * @default - a new stream: ON_DEMAND, `StreamEncryption.MANAGED`, 24 h retention
   */
  readonly stream?: kinesis.IStream;
  /**
   * Props for the stream the construct creates, laid over its defaults.
   * @default - ON_DEMAND, `StreamEncryption.MANAGED`, 24 h retention
   */
  readonly streamProps?: kinesis.StreamProps;
  /**
   * Retention of a given `stream` (the construct cannot read it from an
   * `IStream`). Sets the default `maxRecordAge` and the iterator-age alarm.
   * Only with `stream`; for a new stream set `streamProps.retentionPeriod`.
   * @default Duration.hours(24)
   */
  readonly streamRetentionPeriod?: Duration;

  /**
   * The function that runs the KCL processor (e.g. a `NodejsFunction` whose
   * handler is `withKclProcessor(...)`). Give `function` or `functionProps`.
   * @default - a `NodejsFunction` built from `functionProps`
   */
  readonly function?: lambda.Function;
  /**
   * Props from which the construct builds a `NodejsFunction`, laid over its
   * defaults: Node.js 24, arm64, 256 MB, 1 minute timeout, a log group kept one
   * month, a role that may write to that log group only, bundled locally with esbuild (minified, source maps enabled with
   * `NODE_OPTIONS=--enable-source-maps`) with
   * `@aws-sdk/*` and `@smithy/*` left to the Lambda runtime.
   * @default - none; required when `function` is not given
   */
  readonly functionProps?: nodejs.NodejsFunctionProps;

  /**
   * The checkpoint (lease) table, KCL lease-table compatible (partition key
   * `leaseKey`, string). Give a KCL application's table to resume where it stopped.
   * @default - a new `TableV2`: on-demand, key `leaseKey` (S), point-in-time recovery, RETAIN
   */
  readonly checkpointTable?: dynamodb.ITableV2;
  /**
   * KCL application name, written to `KCL_APPLICATION_NAME`; the
   * `ApplicationName` dimension of the runtime's metrics.
   * @default - the construct path with `/` replaced by `-`
   */
  readonly applicationName?: string;
  /**
   * CloudWatch namespace of the runtime's metrics, written to `KCL_METRICS_NAMESPACE`.
   * @default 'KclLambda'
   */
  readonly metricsNamespace?: string;

  /**
   * Largest number of Kinesis records per invocation, 1 to 10,000.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking, up to 5 minutes.
   * @default - no batching window
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Where a shard without a checkpoint starts. Records at or below a
   * checkpoint in the table are skipped by the runtime whatever this says.
   * @default lambda.StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;
  /**
   * Start time; required with, and only with, `StartingPosition.AT_TIMESTAMP`.
   * @default - none
   */
  readonly startingPositionTimestamp?: Date;
  /**
   * Retries of a failing batch before Lambda discards it to `onFailure`.
   * 0 to 10,000; -1 (infinite) is refused.
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this are discarded to `onFailure`. 60 s to 7 days.
   * @default - three quarters of the stream retention, at most 7 days
   */
  readonly maxRecordAge?: Duration;
  /**
   * Split a failing batch in two and retry the halves.
   * @default false
   */
  readonly bisectBatchOnError?: boolean;
  /**
   * Event filter patterns (`lambda.FilterCriteria.filter(...)`). Filtered-out
   * records never reach the processor and are not checkpointed by it.
   * @default - every record
   */
  readonly filters?: Array<{ [key: string]: any }>;
  /**
   * Read through a dedicated enhanced fan-out consumer (`StreamConsumer`).
   * @default false
   */
  readonly enhancedFanOut?: boolean;
  /**
   * Fixed at 1: concurrent batches from one shard break per-shard order and
   * race on the shard's checkpoint. Any other value is refused.
   * @default 1
   */
  readonly parallelizationFactor?: number;
  /**
   * Not supported: a tumbling window hands the function state, not records
   * in KCL order with checkpoints. Any value is refused.
   * @default - none
   */
  readonly tumblingWindow?: Duration;

  /**
   * Where Lambda sends discarded batches' metadata: a queue, topic or bucket,
   * or `false` for nowhere.
   * @default - a new SQS queue: KMS-managed encryption, SSL only, 14-day retention
   */
  readonly onFailure?: OnFailureDestination | false;

  /**
   * Create the alarms: iterator age, function errors, on-failure queue depth.
   * @default true
   */
  readonly alarms?: boolean;
  /**
   * Topic notified when an alarm fires.
   * @default - no action
   */
  readonly alarmAction?: sns.ITopic;
  /**
   * Alarm when the runtime's `MillisBehindLatest` (Maximum) reaches this.
   * @default - no such alarm
   */
  readonly millisBehindLatestAlarm?: Duration;
  /**
   * Create a CloudWatch dashboard with the runtime's metrics beside Lambda's.
   * @default false
   */
  readonly dashboard?: boolean;
}

const DEFAULT_STREAM_RETENTION = Duration.hours(24);
const DEFAULT_RETRY_ATTEMPTS = 10;
const MAX_RECORD_AGE_LIMIT = Duration.days(7);
const MIN_RECORD_AGE = Duration.seconds(60);
const MAX_BATCH_SIZE = 10_000;

/**
 * A Kinesis consumer with the KCL programming model on Lambda: the stream,
 * the checkpoint table, the function and its event source mapping, the
 * on-failure destination, alarms and least-privilege grants.
 */
export class KclConsumer extends Construct implements IKclConsumerMetrics {
  public readonly stream: kinesis.IStream;
  public readonly checkpointTable: dynamodb.ITableV2;
  public readonly function: lambda.Function;
  /** The enhanced fan-out consumer, when `enhancedFanOut` is on. */
  public readonly streamConsumer?: kinesis.StreamConsumer;
  public readonly eventSource: eventSources.KinesisEventSource | eventSources.KinesisConsumerEventSource;
  public readonly eventSourceMappingId: string;
  /** The on-failure queue, when the destination is a queue. */
  public readonly onFailureQueue?: sqs.IQueue;
  public readonly applicationName: string;
  public readonly metricsNamespace: string;
  /** Every alarm the construct created. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The stream's retention, from which the default record age and alarm derive. */
  public readonly streamRetentionPeriod: Duration;

  constructor(scope: Construct, id: string, props: KclConsumerProps) {
    super(scope, id);
    validateProps(this.node.path, props);

    this.applicationName = props.applicationName ?? defaultApplicationName(this.node.path);
    this.metricsNamespace = props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
    this.streamRetentionPeriod = props.stream
      ? props.streamRetentionPeriod ?? DEFAULT_STREAM_RETENTION
      : props.streamProps?.retentionPeriod ?? DEFAULT_STREAM_RETENTION;

    this.stream =
      props.stream ??
      new kinesis.Stream(this, 'Stream', {
        streamMode: kinesis.StreamMode.ON_DEMAND,
        encryption: kinesis.StreamEncryption.MANAGED,
        retentionPeriod: DEFAULT_STREAM_RETENTION,
        ...props.streamProps,
      });

    this.checkpointTable =
      props.checkpointTable ??
      new dynamodb.TableV2(this, 'CheckpointTable', {
        partitionKey: { name: 'leaseKey', type: dynamodb.AttributeType.STRING },
        billing: dynamodb.Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // The table holds every shard's position; losing it replays the stream.
        removalPolicy: RemovalPolicy.RETAIN,
      });

    this.function = props.function ?? this.buildFunction(props.functionProps!);
    if (props.filters && props.filters.length > 0) {
      Annotations.of(this).addWarningV2(
        'kcl-lambda:filters-block-resharding',
        'Records the filters drop never reach the processor, so they are never checkpointed: if any are among a ' +
          "parent shard's last records, the parent never counts as drained and its child shards wait (KCL's " +
          'parent-before-child rule) until Lambda discards their batches. Filter inside the processor instead if the stream is resharded.',
      );
    }
    this.function.addEnvironment(RuntimeEnvironment.CHECKPOINT_TABLE, this.checkpointTable.tableName);
    this.function.addEnvironment(RuntimeEnvironment.APPLICATION_NAME, this.applicationName);
    this.function.addEnvironment(RuntimeEnvironment.METRICS_NAMESPACE, this.metricsNamespace);
    this.function.addEnvironment(RuntimeEnvironment.STARTING_POSITION, props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON);
    if (props.startingPositionTimestamp) {
      const seconds = Math.floor(props.startingPositionTimestamp.getTime() / 1000);
      this.function.addEnvironment(RuntimeEnvironment.STARTING_POSITION_TIMESTAMP, String(seconds));
    }

    // The runtime reads and conditionally writes one lease item per shard; nothing else.
    this.checkpointTable.grant(this.function, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    this.checkpointTable.encryptionKey?.grantEncryptDecrypt(this.function);

    const { destination: onFailure, queue: onFailureQueue } = this.onFailureDestination(props.onFailure);
    this.onFailureQueue = onFailureQueue;
    const maxRecordAge = props.maxRecordAge ?? defaultMaxRecordAge(this.streamRetentionPeriod);
    // The runtime stops waiting for a parent's records once Lambda has discarded them by age.
    this.function.addEnvironment(RuntimeEnvironment.MAX_RECORD_AGE_SECONDS, String(maxRecordAge.toSeconds()));
    if (props.maxRecordAge && maxRecordAge.toSeconds() >= this.streamRetentionPeriod.toSeconds()) {
      // The stream would trim a record still being retried before Lambda discards it to
      // onFailure: it would be lost without an on-failure record.
      throw new Error(
        `KclConsumer ${this.node.path}: maxRecordAge (${maxRecordAge.toHumanString()}) must be shorter than the stream retention ` +
          `(${this.streamRetentionPeriod.toHumanString()}); records older than the retention expire from the stream without an on-failure record.`,
      );
    }
    const sourceProps: eventSources.KinesisEventSourceProps = {
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      startingPositionTimestamp: props.startingPositionTimestamp
        ? Math.floor(props.startingPositionTimestamp.getTime() / 1000)
        : undefined,
      batchSize: props.batchSize,
      maxBatchingWindow: props.maxBatchingWindow,
      retryAttempts: props.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
      maxRecordAge,
      bisectBatchOnError: props.bisectBatchOnError ?? false,
      filters: props.filters,
      parallelizationFactor: 1,
      reportBatchItemFailures: true,
      onFailure,
    };

    // Both sources grant the stream read (ListShards, GetShardIterator and
    // GetRecords included, which shard lineage needs) and decrypt on a customer key.
    if (props.enhancedFanOut) {
      this.streamConsumer = new kinesis.StreamConsumer(this, 'StreamConsumer', {
        stream: this.stream,
        streamConsumerName: this.applicationName.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 128),
      });
      this.eventSource = new eventSources.KinesisConsumerEventSource(this.streamConsumer, sourceProps);
    } else {
      this.eventSource = new eventSources.KinesisEventSource(this.stream, sourceProps);
    }
    this.function.addEventSource(this.eventSource);
    this.eventSourceMappingId = this.eventSource.eventSourceMappingId;

    if (props.alarms ?? true) {
      this.createAlarms(maxRecordAge);
    }
    if (props.millisBehindLatestAlarm) {
      this.alarms.push(
        this.metricMillisBehindLatest().createAlarm(this, 'MillisBehindLatestAlarm', {
          alarmDescription: `${this.applicationName}: the runtime's estimated MillisBehindLatest reached ${props.millisBehindLatestAlarm.toHumanString()}.`,
          threshold: props.millisBehindLatestAlarm.toMilliseconds(),
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    if (props.alarmAction) {
      const action = new cloudwatchActions.SnsAction(props.alarmAction);
      for (const alarm of this.alarms) alarm.addAlarmAction(action);
    }
    if (props.dashboard) {
      this.dashboard = new KclDashboard(this, 'Dashboard', { consumer: this }).dashboard;
    }
  }

  /** A runtime metric in this consumer's namespace, dimension `ApplicationName`. */
  public metric(metricName: KclMetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return kclMetric(this.metricsNamespace, this.applicationName, metricName, props);
  }

  /** Kinesis records delivered by Lambda, before de-aggregation (Sum). */
  public metricKinesisRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.KINESIS_RECORDS, props);
  }

  /** Bytes of Kinesis record data delivered (Sum). */
  public metricKinesisBytes(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.KINESIS_BYTES, props);
  }

  /** User records handed to the processor after de-aggregation (Sum). */
  public metricRecordsProcessed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.USER_RECORDS, props);
  }

  /** Replayed user records skipped because they were at or below the checkpoint (Sum). */
  public metricDuplicatesSkipped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.DUPLICATES_SKIPPED, props);
  }

  /** Records reported to Lambda as batch item failures (Sum). */
  public metricRecordsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.RECORDS_FAILED, props);
  }

  /** Estimated lag behind the tip of the stream, from the last record's arrival time (Maximum). */
  public metricMillisBehindLatest(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.MILLIS_BEHIND_LATEST, props);
  }

  /** Time spent in processRecords (Average). */
  public metricProcessRecordsTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.PROCESS_RECORDS_TIME, props);
  }

  /** Latency of the checkpoint write (Average). */
  public metricCheckpointWriteTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.CHECKPOINT_WRITE_TIME, props);
  }

  /** Leases lost to a concurrent writer (Sum). */
  public metricLeaseLost(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.LEASE_LOST, props);
  }

  /** Parent shards finished at SHARD_END (Sum). */
  public metricShardEnded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(KclMetricName.SHARD_ENDED, props);
  }

  /** Lambda's IteratorAge for the function: age of the last record of each batch (Maximum). */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('IteratorAge', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /** Lambda's Errors for the function: invocations that threw or timed out (Sum). */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ period: Duration.minutes(5), ...props });
  }

  /** Messages waiting in the on-failure queue (Maximum); undefined without a queue. */
  public metricOnFailureQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric | undefined {
    return this.onFailureQueue?.metricApproximateNumberOfMessagesVisible({
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  private buildFunction(functionProps: nodejs.NodejsFunctionProps): lambda.Function {
    const logGroup =
      functionProps.logGroup ??
      new logs.LogGroup(this, 'FunctionLogs', { retention: logs.RetentionDays.ONE_MONTH });
    // Instead of AWSLambdaBasicExecutionRole (logs:* on every log group): write to this log group only.
    let role = functionProps.role;
    if (!role) {
      role = new iam.Role(this, 'FunctionRole', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Runs the KCL processor of ${this.applicationName}`,
      });
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupRef.logGroupArn],
        }),
      );
      // Function adds this only to a role it creates itself; without it a VPC function cannot create its ENIs.
      if (functionProps.vpc) {
        role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      }
    }
    return new nodejs.NodejsFunction(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
      ...functionProps,
      logGroup,
      role,
      // esbuild's source maps are only read when Node is told to.
      environment: { NODE_OPTIONS: '--enable-source-maps', ...functionProps.environment },
      bundling: {
        // esbuild from node_modules; never a Docker build.
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        // The Lambda Node.js runtime ships the AWS SDK v3 and its Smithy packages.
        externalModules: ['@aws-sdk/*', '@smithy/*'],
        ...functionProps.bundling,
      },
    });
  }

  private onFailureDestination(onFailure: OnFailureDestination | false | undefined): {
    destination?: lambda.IEventSourceDlq;
    queue?: sqs.IQueue;
  } {
    if (onFailure === false) return {};
    if (onFailure === undefined) {
      const queue = new sqs.Queue(this, 'OnFailureQueue', {
        encryption: sqs.QueueEncryption.KMS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      return { destination: new eventSources.SqsDlq(queue), queue };
    }
    if ('queueArn' in onFailure) return { destination: new eventSources.SqsDlq(onFailure), queue: onFailure };
    if ('topicArn' in onFailure) return { destination: new eventSources.SnsDlq(onFailure) };
    return { destination: new eventSources.S3OnFailureDestination(onFailure) };
  }

  private createAlarms(maxRecordAge: Duration): void {
    // Fire while there is time to act: before half the retention is gone, and
    // before Lambda starts discarding records at maxRecordAge.
    const iteratorAgeThreshold = Math.min(
      this.streamRetentionPeriod.toMilliseconds() / 2,
      Math.floor((maxRecordAge.toMilliseconds() * 2) / 3),
    );
    this.alarms.push(
      this.metricIteratorAge().createAlarm(this, 'IteratorAgeAlarm', {
        alarmDescription: `${this.applicationName}: records are ${Duration.millis(iteratorAgeThreshold).toHumanString()} old; the stream keeps them ${this.streamRetentionPeriod.toHumanString()} and Lambda discards them at ${maxRecordAge.toHumanString()}.`,
        threshold: iteratorAgeThreshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.alarms.push(
      this.metricErrors().createAlarm(this, 'ErrorsAlarm', {
        alarmDescription: `${this.applicationName}: the function threw or timed out; Lambda retries the batch.`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    const queueDepth = this.metricOnFailureQueueDepth();
    if (queueDepth) {
      this.alarms.push(
        queueDepth.createAlarm(this, 'OnFailureQueueAlarm', {
          alarmDescription: `${this.applicationName}: Lambda discarded records; the queue names their shard and sequence numbers.`,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }
}

function defaultApplicationName(path: string): string {
  return path.replace(/\//g, '-').slice(0, 255);
}

/**
 * Three quarters of the retention: Lambda discards a stuck record (and sends
 * its metadata to the on-failure destination) while the stream still holds it
 * for a replay.
 */
function defaultMaxRecordAge(retention: Duration): Duration {
  const seconds = Math.floor((retention.toSeconds() * 3) / 4);
  return Duration.seconds(
    Math.max(MIN_RECORD_AGE.toSeconds(), Math.min(seconds, MAX_RECORD_AGE_LIMIT.toSeconds())),
  );
}

function validateProps(path: string, props: KclConsumerProps): void {
  const fail = (message: string): never => {
    throw new Error(`KclConsumer ${path}: ${message}`);
  };
  if (props.stream && props.streamProps) {
    fail('give either `stream` (an existing stream) or `streamProps` (for a new one), not both.');
  }
  if (props.streamRetentionPeriod && !props.stream) {
    fail('`streamRetentionPeriod` describes a given `stream`; for a new stream set `streamProps.retentionPeriod`.');
  }
  if (props.function && props.functionProps) {
    fail('give either `function` or `functionProps`, not both.');
  }
  if (!props.function && !props.functionProps) {
    fail('give `function` (an existing lambda.Function) or `functionProps` (with at least `entry`).');
  }
  const parallelization = props.parallelizationFactor;
  if (parallelization !== undefined && !Token.isUnresolved(parallelization) && parallelization !== 1) {
    fail(
      `parallelizationFactor must be 1 (got ${parallelization}). Lambda would process several batches of ` +
        'one shard at once: records would reach the processor out of order and concurrent batches would ' +
        'race on the shard\'s checkpoint. Add shards to scale out instead.',
    );
  }
  if (props.tumblingWindow !== undefined) {
    fail(
      'tumblingWindow is not supported: tumbling windows pass aggregation state between invocations ' +
        'and do not fit the KCL processRecords/checkpoint model.',
    );
  }
  const batchSize = props.batchSize;
  if (batchSize !== undefined && !Token.isUnresolved(batchSize)) {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      fail(`batchSize must be a whole number from 1 to ${MAX_BATCH_SIZE} (got ${batchSize}).`);
    }
  }
  const retries = props.retryAttempts;
  if (retries !== undefined && !Token.isUnresolved(retries)) {
    if (!Number.isInteger(retries) || retries < 0 || retries > 10_000) {
      fail(
        `retryAttempts must be a whole number from 0 to 10000 (got ${retries}); infinite retries (-1) ` +
          'would block the shard until its records expire, then lose them without an on-failure record.',
      );
    }
  }
  if (props.maxRecordAge) {
    const age = props.maxRecordAge.toSeconds();
    if (age < MIN_RECORD_AGE.toSeconds() || age > MAX_RECORD_AGE_LIMIT.toSeconds()) {
      fail(`maxRecordAge must be from 60 seconds to 7 days (got ${props.maxRecordAge.toHumanString()}).`);
    }
  }
  if (props.maxBatchingWindow && props.maxBatchingWindow.toSeconds() > 300) {
    fail(`maxBatchingWindow must be at most 5 minutes (got ${props.maxBatchingWindow.toHumanString()}).`);
  }
  const atTimestamp = props.startingPosition === lambda.StartingPosition.AT_TIMESTAMP;
  if (atTimestamp && !props.startingPositionTimestamp) {
    fail('startingPosition AT_TIMESTAMP needs startingPositionTimestamp.');
  }
  if (!atTimestamp && props.startingPositionTimestamp) {
    fail('startingPositionTimestamp is only used with startingPosition AT_TIMESTAMP.');
  }
}
