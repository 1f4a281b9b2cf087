import { Annotations, ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { KclFunctionBundling } from './function-bundling';
import { acknowledgeOwnFindings } from './kcl-consumer-acknowledgements';
import { createConsumerAlarms } from './kcl-consumer-alarms';
import type { IKclConsumerMetrics } from './kcl-consumer-metrics';
import { KclDashboard } from './kcl-dashboard';
import { KclMetricName, KclMetrics } from './kcl-metrics';
import { type OnFailureDestination, isOnFailureDestination, resolveOnFailureDestination } from './on-failure-destination';
import { grantMappingRead } from './stream-read-grant';
import { RuntimeEnvironment } from '../lambda/runtime-environment';
import { LEASE_OWNER_INDEX_NAME } from '../lambda/lease-rows';
import { LeaseKeys } from './lease-keys';

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
   * The opt-ins compliance packs ask for are fields here: `tracing`
   * (`Tracing.ACTIVE` for X-Ray), `reservedConcurrentExecutions` (at least the
   * shard count) and `vpc` (then with endpoints or NAT for Kinesis, DynamoDB and
   * CloudWatch Logs); each is off by default and, when set, the construct stops
   * acknowledging the finding it fixes.
   *
   * Props from which the construct builds a `NodejsFunction`, laid over its
   * defaults: Node.js 24, arm64, 256 MB, 1 minute timeout, a log group kept one
   * month, a role that may write to that log group only, bundled locally with esbuild (minified, source maps enabled with
   * `NODE_OPTIONS=--enable-source-maps`), the AWS SDK included (see `KclFunctionBundling`;
   * `bundling.externalModules: KclFunctionBundling.RUNTIME_PROVIDED_MODULES` uses the runtime's SDK instead).
   * @default - none; required when `function` is not given
   */
  readonly functionProps?: nodejs.NodejsFunctionProps;

  /**
   * The checkpoint (lease) table, KCL lease-table compatible (partition key
   * `leaseKey`, string). Give a KCL application's table to resume where it stopped.
   * @default - a new `TableV2`: on-demand, key `leaseKey` (S), point-in-time recovery, RETAIN,
   * and KCL 3's `LeaseOwnerToLeaseKeyIndex` (so KCL 3 workers can take the table over as it is)
   */
  readonly checkpointTable?: dynamodb.ITableV2;
  /**
   * How the table's rows are keyed, written to `KCL_LEASE_KEYS`: `MULTI_STREAM` for a
   * table a multi-stream KCL application used (`account:streamName:creationEpoch:shardId`).
   * @default LeaseKeys.SHARD_ID
   */
  readonly leaseKeys?: LeaseKeys;
  /**
   * With `leaseKeys: LeaseKeys.MULTI_STREAM`: the KCL application's serialized stream
   * identifier `account:streamName:creationEpoch`, exactly as its lease keys begin,
   * written to `KCL_STREAM_IDENTIFIER`. Set it when KCL's creation epoch is not the
   * stream's creation time in milliseconds (KCL takes it from the application, which may
   * have used seconds); `kcl-lambda lease-table check --stream` reports such keys.
   * @default - derived by the runtime: the event's account and stream name, and the stream's creation time in epoch milliseconds
   */
  readonly streamIdentifier?: string;
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
   * Deletion protection (on by default) on the checkpoint table the construct creates: the table holds
   * every shard's position, and RETAIN guards only CloudFormation deletes.
   * Turn off only for throwaway stacks. Refused with a given `checkpointTable`.
   * @default true
   */
  readonly checkpointTableDeletionProtection?: boolean;
  /**
   * A customer-managed KMS key for the log group the construct creates for the
   * function. A key in the same stack gets a key-policy statement that lets
   * CloudWatch Logs use it for this account's log groups; an imported key's
   * policy must allow that already. Refused with a given `function` or
   * `functionProps.logGroup` (encrypt that log group instead).
   * @default - CloudWatch Logs' service-managed encryption
   */
  readonly logGroupEncryptionKey?: kms.IKey;

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
   * 0 to 10,000, or -1 to retry until `maxRecordAge` (which the construct
   * always sets below the stream retention, so the records still reach the
   * on-failure destination): KCL's behaviour, at the price of a poison record
   * blocking its shard until that age.
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this are discarded to `onFailure`. 60 s to 7 days, and
   * below the stream retention: a record that expires from the stream first is
   * lost with no on-failure record and no discard metric.
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
   * Where Lambda sends discarded batches' metadata: `OnFailureDestination.queue(queue)`,
   * `.topic(topic)`, `.bucket(bucket)`, or `.none()` for nowhere. The function's role gets
   * only what Lambda needs to deliver there (`sqs:SendMessage`, `sns:Publish`, or
   * `s3:PutObject` and `s3:ListBucket`, with the key actions a customer key needs).
   * @default - `OnFailureDestination.queue()`: a new SQS queue, KMS-managed encryption, SSL only, 14-day retention
   */
  readonly onFailure?: OnFailureDestination;

  /**
   * Create the alarms: iterator age, function errors, records failed, a
   * stalled consumer, and every discard (dropped, delivered to the on-failure
   * destination, destination delivery failures).
   * @default true
   */
  readonly alarms?: boolean;
  /**
   * Whether the function publishes the runtime's metrics with the built-in
   * writer (`withKclProcessor`'s default): in `metricsNamespace`, dimension
   * `ApplicationName`. Set false when the handler passes `metrics: false` or a
   * Powertools `Metrics`: the stall alarm then counts the mapping's
   * InvokedEventCount instead of the runtime's KinesisRecords, and there is no
   * RecordsFailed alarm (it would never see data).
   * @default true
   */
  readonly runtimeMetrics?: boolean;
  /**
   * Topic notified when an alarm fires. Optional because who is paged, and
   * how, is the app's decision (a topic per team, a chat integration, an
   * incident tool); without it the alarms change state but notify no one.
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
const DEFAULT_BATCH_SIZE = 100;
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
  /** The Kinesis event source mapping (EventCount metrics on). */
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  /** The mapping's UUID: the `EventSourceMappingUUID` dimension of its metrics. */
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
  private ownLogGroup?: logs.ILogGroupRef;

  constructor(scope: Construct, id: string, props: KclConsumerProps) {
    super(scope, id);
    validateProps(this.node.path, props);

    this.applicationName = props.applicationName ?? defaultApplicationName(this.node.path);
    this.metricsNamespace = props.metricsNamespace ?? KclMetrics.DEFAULT_NAMESPACE;
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
        // KCL 3 creates this index itself if absent; having it lets KCL 3 workers take over without a migration step.
        globalSecondaryIndexes: [
          {
            indexName: LEASE_OWNER_INDEX_NAME,
            partitionKey: { name: 'leaseOwner', type: dynamodb.AttributeType.STRING },
            sortKey: { name: 'leaseKey', type: dynamodb.AttributeType.STRING },
            projectionType: dynamodb.ProjectionType.KEYS_ONLY,
          },
        ],
        // The table holds every shard's position; losing it replays the stream.
        removalPolicy: RemovalPolicy.RETAIN,
        // RETAIN guards only CloudFormation deletes; this guards DeleteTable too.
        deletionProtection: props.checkpointTableDeletionProtection ?? true,
      });

    this.function = props.function ?? this.buildFunction(props.functionProps!, props.logGroupEncryptionKey);
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
    // Unset means the runtime's default, shard ids.
    if (props.leaseKeys !== undefined) this.function.addEnvironment(RuntimeEnvironment.LEASE_KEYS, props.leaseKeys);
    if (props.streamIdentifier !== undefined) this.function.addEnvironment(RuntimeEnvironment.STREAM_IDENTIFIER, props.streamIdentifier);
    if (props.startingPositionTimestamp) {
      const seconds = Math.floor(props.startingPositionTimestamp.getTime() / 1000);
      this.function.addEnvironment(RuntimeEnvironment.STARTING_POSITION_TIMESTAMP, String(seconds));
    }

    // The runtime reads and conditionally writes one lease item per shard; nothing else.
    // On the table's ARN alone: table.grant() would add `index/*` once the table has KCL 3's index.
    iam.Grant.addToPrincipal({
      grantee: this.function,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resourceArns: [this.checkpointTable.tableArn],
    });
    this.checkpointTable.encryptionKey?.grantEncryptDecrypt(this.function);

    const onFailure = resolveOnFailureDestination(this, props.onFailure);
    this.onFailureQueue = onFailure.queue;
    const maxRecordAge = props.maxRecordAge ?? defaultMaxRecordAge(this.streamRetentionPeriod);
    // The runtime stops waiting for a parent's records once Lambda has discarded them by age.
    this.function.addEnvironment(RuntimeEnvironment.MAX_RECORD_AGE_SECONDS, String(maxRecordAge.toSeconds()));
    validateRecordAge(this.node.path, maxRecordAge, this.streamRetentionPeriod, props.stream !== undefined);

    if (props.enhancedFanOut) {
      this.streamConsumer = new kinesis.StreamConsumer(this, 'StreamConsumer', {
        stream: this.stream,
        streamConsumerName: this.applicationName.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 128),
      });
    }
    const source = this.streamConsumer ?? this.stream;
    const retryAttempts = props.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
    // The id CDK's Kinesis event sources use, so the mapping keeps its logical id.
    const mappingId = `${this.streamConsumer ? 'KinesisConsumerEventSource' : 'KinesisEventSource'}:${Names.nodeUniqueId(source.node)}`;
    this.eventSourceMapping = this.function.addEventSourceMapping(mappingId, {
      eventSourceArn: this.streamConsumer ? this.streamConsumer.streamConsumerArn : this.stream.streamArn,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      startingPositionTimestamp: props.startingPositionTimestamp
        ? Math.floor(props.startingPositionTimestamp.getTime() / 1000)
        : undefined,
      batchSize: props.batchSize ?? DEFAULT_BATCH_SIZE,
      maxBatchingWindow: props.maxBatchingWindow,
      retryAttempts,
      maxRecordAge,
      bisectBatchOnError: props.bisectBatchOnError ?? false,
      filters: props.filters,
      parallelizationFactor: 1,
      reportBatchItemFailures: true,
      onFailure: onFailure.destination,
      supportS3OnFailureDestination: true,
      // DroppedEventCount, OnFailureDestinationDeliveredEventCount and FilteredOutEventCount feed the alarms.
      metricsConfig: { metrics: [lambda.MetricType.EVENT_COUNT] },
    });
    this.eventSourceMappingId = this.eventSourceMapping.eventSourceMappingId;
    // Exactly what the mapping and the runtime call; see stream-read-grant.ts.
    grantMappingRead(this.function, this.stream, this.streamConsumer);
    if (!onFailure.destination && props.alarms === false) {
      Annotations.of(this).addWarningV2(
        'kcl-lambda:discards-untracked',
        'With no on-failure destination and no alarms, records Lambda discards (retries or maxRecordAge exhausted) ' +
          'leave only the DroppedEventCount metric behind: nothing names them and nothing notifies.',
      );
    }

    if (props.alarms ?? true) {
      this.alarms.push(
        ...createConsumerAlarms(this, {
          consumer: this,
          streamRetentionPeriod: this.streamRetentionPeriod,
          maxRecordAge,
          destination: onFailure.kind,
          runtimeMetrics: props.runtimeMetrics ?? true,
        }),
      );
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

    const functionProps = props.function ? undefined : props.functionProps;
    acknowledgeOwnFindings({
      function: functionProps ? this.function : undefined,
      role: functionProps && !functionProps.role ? this.function.role : undefined,
      logGroup: this.ownLogGroup,
      onFailureQueue: onFailure.ownQueue ? onFailure.queue : undefined,
      logGroupEncrypted: props.logGroupEncryptionKey !== undefined,
      tracing: functionProps?.tracing === lambda.Tracing.ACTIVE,
      reservedConcurrency: functionProps?.reservedConcurrentExecutions !== undefined,
      vpc: functionProps?.vpc !== undefined,
      mappingWithoutDestination:
        !onFailure.destination && (props.alarms ?? true) ? this.eventSourceMapping : undefined,
      onFailureBucket: onFailure.bucket,
    });
  }

  /** A runtime metric in this consumer's namespace, dimension `ApplicationName`. */
  public metric(metricName: KclMetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return KclMetrics.metric(this.metricsNamespace, this.applicationName, metricName, props);
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

  /** The stream's IncomingRecords: records producers put (Sum). */
  public metricIncomingRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stream.metricIncomingRecords({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5), ...props });
  }

  /** A metric of the event source mapping (`AWS/Lambda`, dimension `EventSourceMappingUUID`), Sum. */
  public metricEventSourceMapping(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName,
      dimensionsMap: { EventSourceMappingUUID: this.eventSourceMappingId },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * Records the mapping discarded with no on-failure record: retries or
   * maxRecordAge exhausted without a destination, or delivery to it failed (Sum).
   */
  public metricDroppedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricEventSourceMapping('DroppedEventCount', props);
  }

  /** Records the mapping discarded and named in an on-failure record (Sum). */
  public metricOnFailureDeliveredEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricEventSourceMapping('OnFailureDestinationDeliveredEventCount', props);
  }

  /** Records the mapping's filters dropped (Sum). */
  public metricFilteredOutEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricEventSourceMapping('FilteredOutEventCount', props);
  }

  /** Records the mapping invoked the function with, retries counted again (Sum). */
  public metricInvokedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricEventSourceMapping('InvokedEventCount', props);
  }

  /** Records the mapping read from the stream (Sum); 0 for an empty poll. */
  public metricPolledEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricEventSourceMapping('PolledEventCount', props);
  }

  /** Lambda's DestinationDeliveryFailures for the function: on-failure records it could not deliver (Sum). */
  public metricDestinationDeliveryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metric('DestinationDeliveryFailures', {
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  private buildFunction(functionProps: nodejs.NodejsFunctionProps, logKey?: kms.IKey): lambda.Function {
    const logGroup = functionProps.logGroup ?? this.buildLogGroup(logKey);
    if (!functionProps.logGroup) this.ownLogGroup = logGroup;
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
    KclFunctionBundling.requireLocalEsbuild(this, functionProps.bundling);
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
      bundling: KclFunctionBundling.options(this, functionProps.bundling),
    });
  }

  private buildLogGroup(key?: kms.IKey): logs.LogGroup {
    if (key) {
      // CloudWatch Logs encrypts with the key only if the key policy lets it (a no-op for an imported key).
      const stack = Stack.of(this);
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
          actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          resources: ['*'],
          conditions: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
                service: 'logs',
                resource: 'log-group',
                resourceName: '*',
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            },
          },
        }),
      );
    }
    return new logs.LogGroup(this, 'FunctionLogs', { retention: logs.RetentionDays.ONE_MONTH, encryptionKey: key });
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
  if (props.checkpointTableDeletionProtection !== undefined && props.checkpointTable) {
    fail('`checkpointTableDeletionProtection` applies to the table the construct creates; set it on the given `checkpointTable` instead.');
  }
  if (props.logGroupEncryptionKey && (props.function || props.functionProps?.logGroup)) {
    fail(
      '`logGroupEncryptionKey` encrypts the log group the construct creates; with a given `function` or ' +
        '`functionProps.logGroup`, encrypt that log group instead.',
    );
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
    if (!Number.isInteger(retries) || retries < -1 || retries > 10_000) {
      fail(
        `retryAttempts must be a whole number from 0 to 10000, or -1 to retry until maxRecordAge (got ${retries}).`,
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
  if (props.onFailure !== undefined && !isOnFailureDestination(props.onFailure)) {
    fail(
      'onFailure must be an OnFailureDestination: OnFailureDestination.queue(queue), .topic(topic), .bucket(bucket) ' +
        `or .none() (got ${describeValue(props.onFailure)}; earlier 0.x versions took the queue, topic or bucket itself, or false).`,
    );
  }
  if (props.leaseKeys !== undefined && !Object.values(LeaseKeys).includes(props.leaseKeys)) {
    fail(`leaseKeys must be LeaseKeys.SHARD_ID or LeaseKeys.MULTI_STREAM (got ${JSON.stringify(props.leaseKeys)}).`);
  }
  if (props.streamIdentifier !== undefined) {
    if (props.leaseKeys !== LeaseKeys.MULTI_STREAM) fail('streamIdentifier applies only with leaseKeys LeaseKeys.MULTI_STREAM.');
    // The runtime's own rule (lambda/lifecycle/lease-keys.ts), checked here so a typo fails the synth, not every batch.
    if (!Token.isUnresolved(props.streamIdentifier) && !/^[0-9]{12}:[a-zA-Z0-9_.-]{1,128}:[0-9]{1,19}$/.test(props.streamIdentifier)) {
      fail(`streamIdentifier must be KCL's account:streamName:creationEpoch (got ${JSON.stringify(props.streamIdentifier)}).`);
    }
  }
}

/**
 * A bad prop value, named for an error message: a construct by its path (the CDK's
 * class names are mangled in its bundle), anything else by its type.
 */
function describeValue(value: unknown): string {
  if (Construct.isConstruct(value)) return `the construct ${value.node.path}`;
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'an object';
  return typeof value === 'function' ? 'a function' : JSON.stringify(value);
}

/**
 * A record that outlives the stream's retention before it reaches maxRecordAge
 * expires unseen: Lambda sends no on-failure record and counts no discard.
 */
function validateRecordAge(path: string, maxRecordAge: Duration, retention: Duration, givenStream: boolean): void {
  if (maxRecordAge.toSeconds() >= retention.toSeconds()) {
    throw new Error(
      `KclConsumer ${path}: maxRecordAge (${maxRecordAge.toHumanString()}) must be below the stream retention ` +
        `(${retention.toHumanString()}): records would expire from the stream before Lambda discards them, with no ` +
        'on-failure record and no discard metric.' +
        (givenStream ? ' If the given stream keeps records longer, say so with streamRetentionPeriod.' : ''),
    );
  }
}
