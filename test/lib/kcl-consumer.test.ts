import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { KclConsumer, type KclConsumerProps, LeaseKeys, OnFailureDestination } from '../../lib';
import {
  appWithoutBundling,
  ECHO_HANDLER_ENTRY,
  functionPolicyStatements,
  getAtt,
  inlineFunction,
  ref,
  synthesizeConsumer,
  type Synthesized,
} from './kcl-consumer-helpers';

// What Lambda documents for a Kinesis mapping; no ListStreams, and no fan-out actions on the stream.
const KINESIS_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];
const CHECKPOINT_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
const SQS_SEND_ACTIONS = 'sqs:SendMessage';

describe('KclConsumer defaults', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synthesizeConsumer();
  });

  test('creates an ON_DEMAND stream with the AWS-managed key and 24 h retention', () => {
    synthesized.template.resourceCountIs('AWS::Kinesis::Stream', 1);
    synthesized.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      RetentionPeriodHours: 24,
    });
  });

  test('creates an on-demand checkpoint table keyed by leaseKey with point-in-time recovery, retained', () => {
    synthesized.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    synthesized.template.hasResource('AWS::DynamoDB::GlobalTable', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
        AttributeDefinitions: Match.arrayWith([{ AttributeName: 'leaseKey', AttributeType: 'S' }]),
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test("the table carries KCL 3's LeaseOwnerToLeaseKeyIndex: hash leaseOwner (S), range leaseKey (S), keys only", () => {
    const table = Object.values(synthesized.template.findResources('AWS::DynamoDB::GlobalTable'))[0];
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'LeaseOwnerToLeaseKeyIndex',
        KeySchema: [
          { AttributeName: 'leaseOwner', KeyType: 'HASH' },
          { AttributeName: 'leaseKey', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect([...table.Properties.AttributeDefinitions].sort((a: { AttributeName: string }, b: { AttributeName: string }) => a.AttributeName.localeCompare(b.AttributeName))).toEqual([
      { AttributeName: 'leaseKey', AttributeType: 'S' },
      { AttributeName: 'leaseOwner', AttributeType: 'S' },
    ]);
  });

  test('the checkpoint grant names the table only, not its index (the runtime never queries the index)', () => {
    const { stack, consumer } = synthesized;
    const statements = functionPolicyStatements(synthesized) as { Action: unknown; Resource: unknown }[];
    const checkpoint = statements.filter((statement) => JSON.stringify(statement.Action).includes('dynamodb:'));
    expect(checkpoint).toEqual([
      expect.objectContaining({ Action: CHECKPOINT_ACTIONS, Resource: getAtt(stack, consumer.checkpointTable, 'Arn') }),
    ]);
  });

  test('leaseKeys: unset leaves KCL_LEASE_KEYS unset (shard ids); MULTI_STREAM writes it, and the stream read includes DescribeStreamSummary', () => {
    const variables = (s: Synthesized) =>
      Object.values(s.template.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables as Record<string, unknown>;
    expect(variables(synthesized).KCL_LEASE_KEYS).toBeUndefined();
    for (const enhancedFanOut of [false, true]) {
      const multi = synthesizeConsumer(() => ({ leaseKeys: LeaseKeys.MULTI_STREAM, enhancedFanOut }));
      expect(variables(multi).KCL_LEASE_KEYS).toBe('multiStream');
      const actions = (functionPolicyStatements(multi) as { Action: unknown }[]).flatMap((statement) =>
        Array.isArray(statement.Action) ? statement.Action : [statement.Action],
      );
      expect(actions).toContain('kinesis:DescribeStreamSummary');
    }
    expect(variables(synthesizeConsumer(() => ({ leaseKeys: LeaseKeys.SHARD_ID }))).KCL_LEASE_KEYS).toBe('shardId');
  });

  test('leaseKeys outside the enum is refused at synth time', () => {
    expect(() => synthesizeConsumer(() => ({ leaseKeys: 'byHand' as LeaseKeys }))).toThrow(
      /leaseKeys must be LeaseKeys.SHARD_ID or LeaseKeys.MULTI_STREAM \(got "byHand"\)/,
    );
  });

  test('streamIdentifier: written to KCL_STREAM_IDENTIFIER with multi-stream keys; refused without them or malformed', () => {
    const variables = (s: Synthesized) =>
      Object.values(s.template.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables as Record<string, unknown>;
    expect(variables(synthesized).KCL_STREAM_IDENTIFIER).toBeUndefined();
    const given = synthesizeConsumer(() => ({ leaseKeys: LeaseKeys.MULTI_STREAM, streamIdentifier: '123456789012:orders:1764600000' }));
    expect(variables(given).KCL_STREAM_IDENTIFIER).toBe('123456789012:orders:1764600000');
    expect(() => synthesizeConsumer(() => ({ streamIdentifier: '123456789012:orders:1764600000' }))).toThrow(
      /streamIdentifier applies only with leaseKeys LeaseKeys.MULTI_STREAM/,
    );
    expect(() => synthesizeConsumer(() => ({ leaseKeys: LeaseKeys.MULTI_STREAM, streamIdentifier: 'orders:1764600000' }))).toThrow(
      /streamIdentifier must be KCL's account:streamName:creationEpoch \(got "orders:1764600000"\)/,
    );
  });

  test('builds a Node.js 24 arm64 function with the runtime environment', () => {
    const { stack, consumer, template } = synthesized;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 60,
      Handler: 'index.handler',
      Environment: {
        Variables: {
          KCL_CHECKPOINT_TABLE: ref(stack, consumer.checkpointTable),
          KCL_APPLICATION_NAME: 'Test-Consumer',
          KCL_METRICS_NAMESPACE: 'KclLambda',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    expect(consumer.applicationName).toBe('Test-Consumer');
    expect(consumer.metricsNamespace).toBe('KclLambda');
  });

  test('maps the stream with partial batch failures, TRIM_HORIZON, bounded retries and age, and EventCount metrics', () => {
    const { stack, consumer, template } = synthesized;
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const mappings = template.findResources('AWS::Lambda::EventSourceMapping');
    expect(Object.values(mappings)[0].Properties).toEqual({
      EventSourceArn: getAtt(stack, consumer.stream, 'Arn'),
      FunctionName: ref(stack, consumer.function),
      BatchSize: 100,
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      // Three quarters of 24 hours.
      MaximumRecordAgeInSeconds: 18 * 3600,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: false,
      DestinationConfig: { OnFailure: { Destination: getAtt(stack, consumer.onFailureQueue!, 'Arn') } },
      MetricsConfig: { Metrics: ['EventCount'] },
    });
    expect(stack.resolve(consumer.eventSourceMappingId)).toEqual({
      Ref: Object.keys(mappings)[0],
    });
  });

  test('creates a KMS-encrypted, SSL-only on-failure queue keeping messages 14 days', () => {
    const { stack, consumer, template } = synthesized;
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: 'alias/aws/sqs',
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'sqs:*',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: getAtt(stack, consumer.onFailureQueue!, 'Arn'),
          },
        ],
      },
    });
  });

  test('alarms on iterator age, errors, records failed, every discard and a stall; none notifies without alarmAction', () => {
    const { consumer, template } = synthesized;
    // Kept narrow here; test/lib/kcl-consumer-alarms.test.ts checks each alarm's properties.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    expect(consumer.alarms).toHaveLength(7);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Threshold: 12 * 3600 * 1000,
    });
    // The queue-depth alarm stayed in ALARM while messages sat unread; discards are counted instead.
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SQS' }, 0);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });

  test('creates no dashboard and no MillisBehindLatest alarm unless asked', () => {
    synthesized.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(synthesized.consumer.dashboard).toBeUndefined();
    synthesized.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'MillisBehindLatest' }, 0);
  });

  test('grants exactly: log writes, checkpoint item read/write, on-failure send, stream read', () => {
    const { stack, consumer } = synthesized;
    expect(functionPolicyStatements(synthesized)).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: getAtt(stack, consumer.node.findChild('FunctionLogs'), 'Arn'),
      },
      { Action: CHECKPOINT_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.checkpointTable, 'Arn') },
      { Action: SQS_SEND_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.onFailureQueue!, 'Arn') },
      { Action: KINESIS_READ_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.stream, 'Arn') },
    ]);
  });

  test('the function role carries no managed or inline policies', () => {
    const { stack, consumer, template } = synthesized;
    const role = template.toJSON().Resources[stack.getLogicalId(consumer.function.role!.node.defaultChild as never)];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    expect(Object.keys(template.findResources('AWS::IAM::Policy'))).toHaveLength(1);
  });
});

describe('KclConsumer stream overrides', () => {
  test('a given stream with a customer key: read and kms:Decrypt on that key, no new stream', () => {
    const synthesized = synthesizeConsumer((stack) => {
      const key = new kms.Key(stack, 'StreamKey');
      const stream = new kinesis.Stream(stack, 'Given', { encryptionKey: key });
      return { stream, streamRetentionPeriod: Duration.days(7) };
    });
    const { stack, consumer, template } = synthesized;
    const key = stack.node.findChild('StreamKey');
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    expect(consumer.stream).toBe(stack.node.findChild('Given'));
    expect(functionPolicyStatements(synthesized)).toEqual(
      expect.arrayContaining([
        { Action: KINESIS_READ_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.stream, 'Arn') },
        { Action: 'kms:Decrypt', Effect: 'Allow', Resource: getAtt(stack, key, 'Arn') },
      ]),
    );
    expect(functionPolicyStatements(synthesized)).toHaveLength(5);
    // 7-day retention: discard at 5.25 days, alarm at 3.5 days.
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(stack, consumer.stream, 'Arn'),
      MaximumRecordAgeInSeconds: 453_600,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 302_400_000 });
  });

  test('an imported stream: read on its ARN only, no KMS statement, 24 h assumed', () => {
    const arn = 'arn:aws:kinesis:eu-west-1:111122223333:stream/orders';
    const synthesized = synthesizeConsumer((stack) => ({
      stream: kinesis.Stream.fromStreamArn(stack, 'Imported', arn),
    }));
    const statements = functionPolicyStatements(synthesized);
    expect(statements).toContainEqual({ Action: KINESIS_READ_ACTIONS, Effect: 'Allow', Resource: arn });
    expect(JSON.stringify(statements)).not.toContain('kms:');
    synthesized.template.resourceCountIs('AWS::Kinesis::Stream', 0);
    synthesized.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arn,
      MaximumRecordAgeInSeconds: 64_800,
    });
  });

  test('streamProps lie over the defaults and set the retention-derived limits', () => {
    const { template } = synthesizeConsumer(() => ({
      streamProps: {
        streamMode: kinesis.StreamMode.PROVISIONED,
        shardCount: 2,
        retentionPeriod: Duration.hours(48),
      },
    }));
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 2,
      RetentionPeriodHours: 48,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 36 * 3600 });
    // The runtime gets the same age: a parent's records Lambda discarded by age no longer block its children.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KCL_MAX_RECORD_AGE_SECONDS: String(36 * 3600) }) },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 24 * 3600 * 1000 });
  });

  test('a year of retention: record age capped at 7 days and the alarm fires before the discard', () => {
    const { template } = synthesizeConsumer(() => ({ streamProps: { retentionPeriod: Duration.days(365) } }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 604_800 });
    // Two thirds of 7 days, not half a year.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 403_200_000 });
  });

  test('enhanced fan-out reads through a stream consumer, granted on the consumer and the stream', () => {
    const synthesized = synthesizeConsumer(() => ({ enhancedFanOut: true }));
    const { stack, consumer, template } = synthesized;
    template.hasResourceProperties('AWS::Kinesis::StreamConsumer', {
      ConsumerName: 'Test-Consumer',
      StreamARN: getAtt(stack, consumer.stream, 'Arn'),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(stack, consumer.streamConsumer!, 'ConsumerARN'),
    });
    const statements = functionPolicyStatements(synthesized);
    expect(statements).toContainEqual({
      Action: KINESIS_READ_ACTIONS,
      Effect: 'Allow',
      Resource: getAtt(stack, consumer.stream, 'Arn'),
    });
    expect(statements).toContainEqual({
      Action: ['kinesis:DescribeStreamConsumer', 'kinesis:SubscribeToShard'],
      Effect: 'Allow',
      Resource: getAtt(stack, consumer.streamConsumer!, 'ConsumerARN'),
    });
    expect(statements).toHaveLength(5);
    // The mapping keeps the logical id CDK's KinesisConsumerEventSource gave it.
    expect(Object.keys(template.findResources('AWS::Lambda::EventSourceMapping'))[0]).toMatch(
      /^ConsumerFunctionKinesisConsumerEventSource/,
    );
  });
});

describe('KclConsumer table, function and environment overrides', () => {
  test('a given checkpoint table with a customer key: item grants and key use on that table only', () => {
    const synthesized = synthesizeConsumer((stack) => {
      const key = new kms.Key(stack, 'TableKey');
      const table = new dynamodb.TableV2(stack, 'KclTable', {
        partitionKey: { name: 'leaseKey', type: dynamodb.AttributeType.STRING },
        encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
      });
      return { checkpointTable: table };
      // A customer key on a TableV2 needs a region-specific stack.
    }, { env: { account: '111122223333', region: 'eu-west-1' } });
    const { stack, consumer, template } = synthesized;
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    expect(consumer.checkpointTable).toBe(stack.node.findChild('KclTable'));
    const statements = functionPolicyStatements(synthesized);
    expect(statements).toContainEqual({
      Action: CHECKPOINT_ACTIONS,
      Effect: 'Allow',
      Resource: getAtt(stack, consumer.checkpointTable, 'Arn'),
    });
    expect(statements).toContainEqual({
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'],
      Effect: 'Allow',
      Resource: getAtt(stack, stack.node.findChild('TableKey'), 'Arn'),
    });
    expect(statements).toHaveLength(5);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KCL_CHECKPOINT_TABLE: ref(stack, consumer.checkpointTable) }) },
    });
  });

  test('an imported KCL table by name: item grants on its ARN', () => {
    const synthesized = synthesizeConsumer((stack) => ({
      checkpointTable: dynamodb.TableV2.fromTableName(stack, 'KclTable', 'orders-kcl-app'),
    }));
    synthesized.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    const statements = functionPolicyStatements(synthesized) as Array<{ Action: unknown; Resource: unknown }>;
    const tableStatement = statements.find((s) => JSON.stringify(s.Action) === JSON.stringify(CHECKPOINT_ACTIONS));
    expect(JSON.stringify(synthesized.stack.resolve(tableStatement!.Resource))).toContain(':table/orders-kcl-app');
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KCL_CHECKPOINT_TABLE: 'orders-kcl-app' }) },
    });
  });

  test('applicationName and metricsNamespace reach the environment', () => {
    const { consumer, template } = synthesizeConsumer(() => ({
      applicationName: 'orders-kcl-app',
      metricsNamespace: 'Orders/Kcl',
    }));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ KCL_APPLICATION_NAME: 'orders-kcl-app', KCL_METRICS_NAMESPACE: 'Orders/Kcl' }),
      },
    });
    expect(consumer.metricRecordsProcessed().namespace).toBe('Orders/Kcl');
  });

  test('a given function gets the environment and grants; the construct builds none', () => {
    const synthesized = synthesizeConsumer((stack) => ({ function: inlineFunction(stack) }));
    const { stack, consumer, template } = synthesized;
    expect(consumer.function).toBe(stack.node.findChild('Processor'));
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::Logs::LogGroup', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: {
          KCL_CHECKPOINT_TABLE: ref(stack, consumer.checkpointTable),
          KCL_APPLICATION_NAME: 'Test-Consumer',
          KCL_METRICS_NAMESPACE: 'KclLambda',
        },
      },
    });
    expect(functionPolicyStatements(synthesized)).toEqual([
      { Action: CHECKPOINT_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.checkpointTable, 'Arn') },
      { Action: SQS_SEND_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.onFailureQueue!, 'Arn') },
      { Action: KINESIS_READ_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.stream, 'Arn') },
    ]);
  });

  test('functionProps lie over the function defaults; user environment is kept; a given role is used as is', () => {
    const synthesized = synthesizeConsumer((stack) => ({
      functionProps: {
        entry: ECHO_HANDLER_ENTRY,
        memorySize: 1024,
        timeout: Duration.minutes(5),
        architecture: lambda.Architecture.X86_64,
        environment: { ORDERS_TABLE: 'orders' },
        role: new iam.Role(stack, 'OwnRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
      },
    }));
    const { stack, consumer, template } = synthesized;
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 300,
      Architectures: ['x86_64'],
      Environment: {
        Variables: Match.objectLike({
          ORDERS_TABLE: 'orders',
          NODE_OPTIONS: '--enable-source-maps',
          KCL_APPLICATION_NAME: 'Test-Consumer',
        }),
      },
      Role: getAtt(stack, stack.node.findChild('OwnRole'), 'Arn'),
    });
    // The construct adds its own grants to the given role, but no log grant.
    expect(JSON.stringify(functionPolicyStatements(synthesized))).not.toContain('logs:');
    expect(functionPolicyStatements(synthesized)).toHaveLength(3);
    expect(consumer.function.role).toBe(stack.node.findChild('OwnRole'));
  });
});

describe('KclConsumer given log group', () => {
  test('a log group in functionProps is used and is the only one the role may write to', () => {
    const synthesized = synthesizeConsumer((stack) => ({
      functionProps: { entry: ECHO_HANDLER_ENTRY, logGroup: new logs.LogGroup(stack, 'OwnLogs') },
    }));
    const { stack, template } = synthesized;
    const logGroup = stack.node.findChild('OwnLogs');
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: ref(stack, logGroup) } });
    expect(functionPolicyStatements(synthesized)[0]).toEqual({
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Effect: 'Allow',
      Resource: getAtt(stack, logGroup, 'Arn'),
    });
  });
});

describe('KclConsumer event source overrides', () => {
  test('batching, starting position, retries, age, bisect and filters pass through', () => {
    const { template } = synthesizeConsumer(() => ({
      batchSize: 10_000,
      maxBatchingWindow: Duration.seconds(2),
      startingPosition: lambda.StartingPosition.AT_TIMESTAMP,
      startingPositionTimestamp: new Date('2026-01-02T03:04:05.678Z'),
      retryAttempts: 0,
      maxRecordAge: Duration.hours(1),
      bisectBatchOnError: true,
      filters: [lambda.FilterCriteria.filter({ partitionKey: lambda.FilterRule.isEqual('orders') })],
    }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10_000,
      MaximumBatchingWindowInSeconds: 2,
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: Date.parse('2026-01-02T03:04:05Z') / 1000,
      MaximumRetryAttempts: 0,
      MaximumRecordAgeInSeconds: 3600,
      BisectBatchOnFunctionError: true,
      FilterCriteria: { Filters: [{ Pattern: '{"partitionKey":["orders"]}' }] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ParallelizationFactor: 1,
    });
    // The alarm fires at two thirds of a one-hour record age, before Lambda discards.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 2_400_000 });
    // The runtime judges parent shards Lambda never delivered from by the same start.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          KCL_STARTING_POSITION: 'AT_TIMESTAMP',
          KCL_STARTING_POSITION_TIMESTAMP: String(Date.parse('2026-01-02T03:04:05Z') / 1000),
        }),
      },
    });
  });

  test('LATEST and parallelizationFactor 1 are accepted', () => {
    const { template } = synthesizeConsumer(() => ({
      startingPosition: lambda.StartingPosition.LATEST,
      parallelizationFactor: 1,
    }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'LATEST',
      ParallelizationFactor: 1,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KCL_STARTING_POSITION: 'LATEST' }) },
    });
  });
  // Every on-failure destination type: test/lib/on-failure-destination.test.ts.
});

describe('KclConsumer alarm overrides', () => {
  test('alarms: false creates none', () => {
    const { consumer, template } = synthesizeConsumer(() => ({ alarms: false }));
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(consumer.alarms).toEqual([]);
  });

  test('alarmAction notifies the topic from every alarm, the MillisBehindLatest one included', () => {
    const { stack, template } = synthesizeConsumer((stack) => ({
      alarmAction: new sns.Topic(stack, 'Oncall'),
      millisBehindLatestAlarm: Duration.minutes(10),
    }));
    const topic = ref(stack, stack.node.findChild('Oncall'));
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(8);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topic]);
  });
});

describe('KclConsumer validation', () => {
  function construct(props: Partial<KclConsumerProps>, setup?: (stack: Stack) => Partial<KclConsumerProps>) {
    const stack = new Stack(appWithoutBundling(), 'Test');
    return () =>
      new KclConsumer(stack, 'Consumer', {
        function: inlineFunction(stack),
        ...setup?.(stack),
        ...props,
      } as KclConsumerProps);
  }

  test('parallelizationFactor above 1 is refused, naming order and checkpoints', () => {
    expect(construct({ parallelizationFactor: 2 })).toThrow(
      /Test\/Consumer: parallelizationFactor must be 1 \(got 2\).*out of order.*checkpoint/,
    );
  });

  test('stream and streamProps together are refused', () => {
    expect(
      construct({ streamProps: { shardCount: 1 } }, (stack) => ({ stream: new kinesis.Stream(stack, 'S') })),
    ).toThrow(/either `stream` .* or `streamProps` .* not both/);
  });

  test.each([0, 10_001, 2.5, -1])('batchSize %p is refused', (batchSize) => {
    expect(construct({ batchSize })).toThrow(`batchSize must be a whole number from 1 to 10000 (got ${batchSize})`);
  });

  test('batchSize 1 is accepted', () => {
    expect(construct({ batchSize: 1 })).not.toThrow();
  });

  test('a tumbling window is refused', () => {
    expect(construct({ tumblingWindow: Duration.minutes(1) })).toThrow(/tumblingWindow is not supported/);
  });

  test('function and functionProps together, or neither, are refused', () => {
    expect(construct({ functionProps: { entry: ECHO_HANDLER_ENTRY } })).toThrow(
      /either `function` or `functionProps`, not both/,
    );
    const stack = new Stack(appWithoutBundling(), 'Test');
    expect(() => new KclConsumer(stack, 'Consumer', {})).toThrow(/give `function` .* or `functionProps`/);
  });

  test.each([-2, 10_001, 1.5])('retryAttempts %p is refused', (retryAttempts) => {
    expect(construct({ retryAttempts })).toThrow(
      `retryAttempts must be a whole number from 0 to 10000, or -1 to retry until maxRecordAge (got ${retryAttempts})`,
    );
  });

  test('maxRecordAge at or above the stream retention is refused: records would expire unrecorded', () => {
    expect(construct({ maxRecordAge: Duration.hours(24) })).toThrow(
      /maxRecordAge \(1 day\) must be below the stream retention \(1 day\).*no on-failure record/,
    );
    expect(
      construct({ maxRecordAge: Duration.days(3) }, (stack) => ({ stream: new kinesis.Stream(stack, 'S') })),
    ).toThrow(/say so with streamRetentionPeriod/);
    expect(
      construct({ maxRecordAge: Duration.days(3), streamRetentionPeriod: Duration.days(7) }, (stack) => ({
        stream: new kinesis.Stream(stack, 'S', { retentionPeriod: Duration.days(7) }),
      })),
    ).not.toThrow();
  });

  test.each([Duration.seconds(30), Duration.days(8)])('maxRecordAge %s is refused', (maxRecordAge) => {
    expect(construct({ maxRecordAge })).toThrow(/maxRecordAge must be from 60 seconds to 7 days/);
  });

  test('a maxRecordAge the stream retention would outlast is refused: such records expire without an on-failure record', () => {
    expect(construct({ maxRecordAge: Duration.hours(24) })).toThrow(
      /maxRecordAge \(1 day\) must be below the stream retention \(1 day\): records would expire from the stream before Lambda discards them, with no on-failure record/,
    );
    expect(construct({ maxRecordAge: Duration.hours(30), streamProps: { retentionPeriod: Duration.hours(48) } })).not.toThrow();
    expect(construct({ maxRecordAge: Duration.days(3), streamProps: { retentionPeriod: Duration.hours(48) } })).toThrow(
      /must be below the stream retention \(2 days\)/,
    );
    expect(construct({ maxRecordAge: Duration.hours(23) })).not.toThrow();
  });

  test('maxBatchingWindow above 5 minutes is refused', () => {
    expect(construct({ maxBatchingWindow: Duration.minutes(6) })).toThrow(/maxBatchingWindow must be at most 5 minutes/);
  });

  test('AT_TIMESTAMP needs a timestamp, and a timestamp needs AT_TIMESTAMP', () => {
    expect(construct({ startingPosition: lambda.StartingPosition.AT_TIMESTAMP })).toThrow(
      /AT_TIMESTAMP needs startingPositionTimestamp/,
    );
    expect(construct({ startingPositionTimestamp: new Date() })).toThrow(/only used with startingPosition AT_TIMESTAMP/);
  });

  test('checkpointTableDeletionProtection with a given table, and logGroupEncryptionKey without a log group of its own, are refused', () => {
    expect(
      construct({ checkpointTableDeletionProtection: false }, (stack) => ({
        checkpointTable: dynamodb.TableV2.fromTableName(stack, 'T', 'kcl-app'),
      })),
    ).toThrow(/`checkpointTableDeletionProtection` applies to the table the construct creates/);
    expect(construct({}, (stack) => ({ logGroupEncryptionKey: new kms.Key(stack, 'K') }))).toThrow(
      /`logGroupEncryptionKey` encrypts the log group the construct creates/,
    );
  });

  test('streamRetentionPeriod without a given stream is refused', () => {
    expect(construct({ streamRetentionPeriod: Duration.days(2) })).toThrow(/streamProps.retentionPeriod/);
  });
});

describe('KclConsumer in a VPC and with filters', () => {
  test('a built function in a VPC gets the ENI permissions its own role would have had', () => {
    const synthesized = synthesizeConsumer((stack) => ({
      functionProps: { entry: ECHO_HANDLER_ENTRY, vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 }) },
    }));
    const role = synthesized.stack.resolve((synthesized.consumer.function.role!.node.defaultChild as iam.CfnRole).managedPolicyArns);
    expect(JSON.stringify(role)).toContain('service-role/AWSLambdaVPCAccessExecutionRole');
  });

  test('without a VPC the role has no managed policy at all', () => {
    const synthesized = synthesizeConsumer();
    const managed = synthesized.stack.resolve((synthesized.consumer.function.role!.node.defaultChild as iam.CfnRole).managedPolicyArns);
    expect(managed).toBeUndefined();
  });

  test('filters come with a synth-time warning about resharding', () => {
    const { stack } = synthesizeConsumer(() => ({
      filters: [lambda.FilterCriteria.filter({ partitionKey: lambda.FilterRule.isEqual('orders') })],
    }));
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('never counts as drained'));
    const { stack: plain } = synthesizeConsumer();
    Annotations.fromStack(plain).hasNoWarning('*', Match.anyValue());
  });
});

describe('KclConsumer safer defaults and their opt-outs', () => {
  test('deletion protection is on for the checkpoint table by default: RETAIN guards only CloudFormation deletes', () => {
    const { template } = synthesizeConsumer();
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })],
    });
  });

  test('checkpointTableDeletionProtection: false turns deletion protection off (RETAIN stays)', () => {
    const { template } = synthesizeConsumer(() => ({ checkpointTableDeletionProtection: false }));
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      Properties: { Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })] },
      DeletionPolicy: 'Retain',
    });
  });

  test('retryAttempts -1 reaches the mapping as -1, bounded by the default maxRecordAge', () => {
    const { template } = synthesizeConsumer(() => ({ retryAttempts: -1 }));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: 18 * 3600,
    });
  });

  test('logGroupEncryptionKey encrypts the log group and lets CloudWatch Logs use the key', () => {
    const { stack, consumer, template } = synthesizeConsumer((s) => ({
      logGroupEncryptionKey: new kms.Key(s, 'LogKey'),
    }));
    const key = stack.node.findChild('LogKey');
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: getAtt(stack, key, 'Arn'), RetentionInDays: 30 });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
            Effect: 'Allow',
            Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            Resource: '*',
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:*'],
                  ],
                },
              },
            },
          },
        ]),
      },
    });
    expect(consumer.function.role).toBeDefined();
  });

  test('no destination and no alarms: a synth warning that discards would go unnamed and unnoticed', () => {
    const { stack } = synthesizeConsumer(() => ({ onFailure: OnFailureDestination.none(), alarms: false }));
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('nothing names them and nothing notifies'));
    const { stack: withAlarms } = synthesizeConsumer(() => ({ onFailure: OnFailureDestination.none() }));
    Annotations.fromStack(withAlarms).hasNoWarning('*', Match.anyValue());
  });
});
