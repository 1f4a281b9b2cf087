import type { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { type KclConsumerProps, OnFailureDestination } from '../../lib';
import { functionPolicyStatements, getAtt, ref, synthesizeConsumer, type Synthesized } from './kcl-consumer-helpers';

const KINESIS_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];

/** One on-failure destination type: how to make it, and what it must synthesize to. */
interface Variant {
  readonly name: string;
  readonly props: (stack: Stack) => Partial<KclConsumerProps>;
  /** The mapping's DestinationConfig.OnFailure.Destination; undefined for none. */
  readonly destination: (s: Synthesized) => unknown;
  /** The statements the destination adds to the function's role, exactly. */
  readonly statements: (s: Synthesized) => unknown[];
  readonly queues: number;
  readonly ownQueue: boolean;
}

const keyArn = (s: Synthesized) => getAtt(s.stack, s.stack.node.findChild('Key'), 'Arn');
const given = (s: Synthesized) => s.stack.node.findChild('Given');

const VARIANTS: Variant[] = [
  {
    name: 'the default: its own queue',
    props: () => ({}),
    destination: (s) => getAtt(s.stack, s.consumer.onFailureQueue!, 'Arn'),
    statements: (s) => [
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(s.stack, s.consumer.onFailureQueue!, 'Arn') },
    ],
    queues: 1,
    ownQueue: true,
  },
  {
    name: 'the default, named: OnFailureDestination.queue()',
    props: () => ({ onFailure: OnFailureDestination.queue() }),
    destination: (s) => getAtt(s.stack, s.consumer.onFailureQueue!, 'Arn'),
    statements: (s) => [
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(s.stack, s.consumer.onFailureQueue!, 'Arn') },
    ],
    queues: 1,
    ownQueue: true,
  },
  {
    name: 'a given queue',
    props: (stack) => ({ onFailure: OnFailureDestination.queue(new sqs.Queue(stack, 'Given', { enforceSSL: true })) }),
    destination: (s) => getAtt(s.stack, given(s), 'Arn'),
    statements: (s) => [{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(s.stack, given(s), 'Arn') }],
    queues: 1,
    ownQueue: false,
  },
  {
    name: 'a given queue with a customer key',
    props: (stack) => ({
      onFailure: OnFailureDestination.queue(
        new sqs.Queue(stack, 'Given', {
          encryption: sqs.QueueEncryption.KMS,
          encryptionMasterKey: new kms.Key(stack, 'Key'),
        }),
      ),
    }),
    destination: (s) => getAtt(s.stack, given(s), 'Arn'),
    statements: (s) => [
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(s.stack, given(s), 'Arn') },
      { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: keyArn(s) },
    ],
    queues: 1,
    ownQueue: false,
  },
  {
    name: 'a topic',
    props: (stack) => ({ onFailure: OnFailureDestination.topic(new sns.Topic(stack, 'Given')) }),
    destination: (s) => ref(s.stack, given(s)),
    statements: (s) => [{ Action: 'sns:Publish', Effect: 'Allow', Resource: ref(s.stack, given(s)) }],
    queues: 0,
    ownQueue: false,
  },
  {
    name: 'a topic with a customer key',
    props: (stack) => ({
      onFailure: OnFailureDestination.topic(new sns.Topic(stack, 'Given', { masterKey: new kms.Key(stack, 'Key') })),
    }),
    destination: (s) => ref(s.stack, given(s)),
    statements: (s) => [
      { Action: 'sns:Publish', Effect: 'Allow', Resource: ref(s.stack, given(s)) },
      { Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: keyArn(s) },
    ],
    queues: 0,
    ownQueue: false,
  },
  {
    name: 'a bucket',
    props: (stack) => ({ onFailure: OnFailureDestination.bucket(new s3.Bucket(stack, 'Given')) }),
    destination: (s) => getAtt(s.stack, given(s), 'Arn'),
    // What Lambda documents for an S3 destination: no read, no delete, no ACLs.
    statements: (s) => [
      {
        Action: 's3:PutObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [getAtt(s.stack, given(s), 'Arn'), '/*']] },
      },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: getAtt(s.stack, given(s), 'Arn') },
    ],
    queues: 0,
    ownQueue: false,
  },
  {
    name: 'a bucket with a customer key',
    props: (stack) => ({
      onFailure: OnFailureDestination.bucket(
        new s3.Bucket(stack, 'Given', {
          encryption: s3.BucketEncryption.KMS,
          encryptionKey: new kms.Key(stack, 'Key'),
        }),
      ),
    }),
    destination: (s) => getAtt(s.stack, given(s), 'Arn'),
    statements: (s) => [
      {
        Action: 's3:PutObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [getAtt(s.stack, given(s), 'Arn'), '/*']] },
      },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: getAtt(s.stack, given(s), 'Arn') },
      { Action: 'kms:GenerateDataKey', Effect: 'Allow', Resource: keyArn(s) },
    ],
    queues: 0,
    ownQueue: false,
  },
  {
    name: 'none (OnFailureDestination.none())',
    props: () => ({ onFailure: OnFailureDestination.none() }),
    destination: () => undefined,
    statements: () => [],
    queues: 0,
    ownQueue: false,
  },
];

describe.each(VARIANTS)('KclConsumer with on-failure destination $name', (variant) => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synthesizeConsumer(variant.props);
  });

  test('the mapping names the destination (or none), with the S3 destination support flag harmless elsewhere', () => {
    const mapping = Object.values(synthesized.template.findResources('AWS::Lambda::EventSourceMapping'))[0];
    const destination = variant.destination(synthesized);
    if (destination === undefined) expect(mapping.Properties.DestinationConfig).toBeUndefined();
    else expect(mapping.Properties.DestinationConfig).toEqual({ OnFailure: { Destination: destination } });
    expect(mapping.Properties.MetricsConfig).toEqual({ Metrics: ['EventCount'] });
  });

  test('the function role gets exactly: logs, checkpoint items, the destination grant, the stream read', () => {
    const { stack, consumer } = synthesized;
    expect(functionPolicyStatements(synthesized)).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: getAtt(stack, consumer.node.findChild('FunctionLogs'), 'Arn'),
      },
      {
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Effect: 'Allow',
        Resource: getAtt(stack, consumer.checkpointTable, 'Arn'),
      },
      ...variant.statements(synthesized),
      { Action: KINESIS_READ_ACTIONS, Effect: 'Allow', Resource: getAtt(stack, consumer.stream, 'Arn') },
    ]);
  });

  test('queues: the construct creates one only by default; onFailureQueue is the queue when there is one', () => {
    const { consumer, stack, template } = synthesized;
    template.resourceCountIs('AWS::SQS::Queue', variant.queues);
    expect(consumer.onFailureQueue === undefined).toBe(variant.queues === 0);
    expect(consumer.node.tryFindChild('OnFailureQueue') !== undefined).toBe(variant.ownQueue);
    if (variant.queues === 1 && !variant.ownQueue) expect(consumer.onFailureQueue).toBe(stack.node.findChild('Given'));
  });

  test('every discard alarms: dropped always; delivered and delivery failures with a destination', () => {
    const { template, stack, consumer } = synthesized;
    const mappingId = stack.resolve(consumer.eventSourceMappingId);
    const hasDestination = variant.destination(synthesized) !== undefined;
    const discardAlarm = (metricName: string, dimensions: unknown) =>
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        {
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: dimensions,
          Statistic: 'Sum',
          Period: 300,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        },
        metricName === 'DroppedEventCount' || hasDestination ? 1 : 0,
      );
    discardAlarm('DroppedEventCount', [{ Name: 'EventSourceMappingUUID', Value: mappingId }]);
    discardAlarm('OnFailureDestinationDeliveredEventCount', [{ Name: 'EventSourceMappingUUID', Value: mappingId }]);
    discardAlarm('DestinationDeliveryFailures', [{ Name: 'FunctionName', Value: ref(stack, consumer.function) }]);
    template.resourceCountIs('AWS::CloudWatch::Alarm', hasDestination ? 7 : 5);
    // No alarm on queue depth: it stays in ALARM while messages sit unread.
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SQS' }, 0);
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmDescription: Match.stringLikeRegexp('undefined') }, 0);
  });
});

describe('KclConsumer onFailure values that are not an OnFailureDestination', () => {
  test.each<[string, (stack: Stack) => unknown, RegExp]>([
    ['false (the earlier 0.x way to say none)', () => false, /\(got false;/],
    ['a queue itself', (stack) => new sqs.Queue(stack, 'Given'), /\(got the construct Test\/Given;/],
    ['a topic itself', (stack) => new sns.Topic(stack, 'Given'), /\(got the construct Test\/Given;/],
  ])('%s: refused with one error naming the factories', (_name, value, got) => {
    const attempt = () => synthesizeConsumer((stack) => ({ onFailure: value(stack) as OnFailureDestination }));
    expect(attempt).toThrow(
      /^KclConsumer Test\/Consumer: onFailure must be an OnFailureDestination: OnFailureDestination\.queue\(queue\), \.topic\(topic\), \.bucket\(bucket\) or \.none\(\)/,
    );
    expect(attempt).toThrow(got);
  });

  test('the default and OnFailureDestination.queue() synthesize the same template', () => {
    expect(synthesizeConsumer(() => ({ onFailure: OnFailureDestination.queue() })).template.toJSON()).toEqual(
      synthesizeConsumer().template.toJSON(),
    );
  });
});
