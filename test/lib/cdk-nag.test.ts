import { App, Stack, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  AwsSolutionsChecks,
  HIPAASecurityChecks,
  NIST80053R5Checks,
  PCIDSS321Checks,
  ServerlessChecks,
  type NagPack,
} from 'cdk-nag';
import { KclConsumer, type KclConsumerProps, OnFailureDestination } from '../../lib';
import { ECHO_HANDLER_ENTRY, appWithoutBundling, inlineFunction } from './kcl-consumer-helpers';

const PACKS: Array<(app: App) => NagPack> = [
  (app) => new AwsSolutionsChecks(app),
  (app) => new ServerlessChecks(app),
  (app) => new NIST80053R5Checks(app),
  (app) => new HIPAASecurityChecks(app),
  (app) => new PCIDSS321Checks(app),
];

/** Every finding of every pack as `rule @ construct path`. */
function findings(app: App): string[] {
  return PACKS.flatMap((pack) => pack(app).validateScope(app).violations).flatMap(
    (violation: PolicyValidationPluginReport['violations'][number]) =>
      violation.violatingResources.map((resource) => `${violation.ruleName} @ ${resource.constructPath}`),
  );
}

/** A user's stack with one consumer; `props` may build resources of the user's in the stack. */
function userApp(props: (stack: Stack) => Partial<KclConsumerProps>): { app: App; consumer: KclConsumer } {
  const app = appWithoutBundling();
  const stack = new Stack(app, 'User');
  const given = props(stack);
  const functionChoice = given.function || given.functionProps ? {} : { functionProps: { entry: ECHO_HANDLER_ENTRY } };
  const consumer = new KclConsumer(stack, 'Orders', { ...functionChoice, ...given });
  return { app, consumer };
}

/** Findings on the consumer's own resources, without the alarms' (their actions are the app's choice). */
function consumerFindings(app: App, consumer: KclConsumer): string[] {
  return findings(app).filter(
    (finding) => finding.includes(` @ ${consumer.node.path}/`) && !/-CloudWatchAlarmAction @/.test(finding),
  );
}

describe('cdk-nag packs on a user app with a KclConsumer', () => {
  test('AwsSolutions reports nothing for a default consumer: the user acknowledges nothing', () => {
    const { app } = userApp(() => ({}));
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations).toEqual([]);
  });

  test('with alarmAction, every pack is clean for a default consumer', () => {
    const { app } = userApp((stack) => {
      const key = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
      return { alarmAction: new sns.Topic(stack, 'Oncall', { masterKey: key, enforceSSL: true }) };
    });
    expect(findings(app)).toEqual([]);
  });

  test('without alarmAction the only findings are the alarms without actions (NIST, HIPAA): a real gap the app closes', () => {
    const { app, consumer } = userApp(() => ({}));
    const all = findings(app);
    expect(all.length).toBeGreaterThan(0);
    for (const finding of all) {
      expect(finding).toMatch(
        new RegExp(`^(NIST\\.800\\.53\\.R5|HIPAA\\.Security)-CloudWatchAlarmAction @ ${consumer.node.path}/\\w+Alarm/Resource$`),
      );
    }
  });

  test.each<[string, (stack: Stack) => Partial<KclConsumerProps>]>([
    ['a given queue', (stack) => ({ onFailure: OnFailureDestination.queue(new sqs.Queue(stack, 'Dlq', { enforceSSL: true })) })],
    ['a topic', (stack) => ({ onFailure: OnFailureDestination.topic(new sns.Topic(stack, 'Failures')) })],
    ['a bucket', (stack) => ({ onFailure: OnFailureDestination.bucket(new s3.Bucket(stack, 'Failures')) })],
    [
      'an imported bucket',
      (stack) => ({ onFailure: OnFailureDestination.bucket(s3.Bucket.fromBucketName(stack, 'Failures', 'orders-failures')) }),
    ],
    ['no destination (alarms on)', () => ({ onFailure: OnFailureDestination.none() })],
    ['enhanced fan-out', () => ({ enhancedFanOut: true })],
    ['a customer-key stream', (stack) => ({ stream: new kinesis.Stream(stack, 'S', { encryptionKey: new kms.Key(stack, 'K') }) })],
    ['a log-group key', (stack) => ({ logGroupEncryptionKey: new kms.Key(stack, 'LogKey', { enableKeyRotation: true }) })],
    ['a given function', (stack) => ({ function: inlineFunction(stack) })],
  ])('%s: no finding on the resources the construct created', (_name, props) => {
    const { app, consumer } = userApp(props);
    expect(consumerFindings(app, consumer)).toEqual([]);
  });

  test('no destination and no alarms: the missing destination is reported, not acknowledged', () => {
    const { app, consumer } = userApp(() => ({ onFailure: OnFailureDestination.none(), alarms: false }));
    expect(consumerFindings(app, consumer)).toEqual([
      `Serverless-LambdaEventSourceMappingDestination @ ${consumer.eventSourceMapping.node.path}/Resource`,
    ]);
  });

  test("the user's own resources are not acknowledged for them", () => {
    const { app } = userApp((stack) => ({ function: inlineFunction(stack) }));
    // The user's function keeps its findings (its DLQ, its role's policy); the construct did not build it.
    expect(findings(app)).toEqual(
      expect.arrayContaining(['Serverless-LambdaDLQ @ User/Processor/Resource', 'NIST.800.53.R5-LambdaDLQ @ User/Processor/Resource']),
    );
  });

  test("a role given in functionProps keeps its own findings: the construct's grants land in it, unacknowledged", () => {
    const { app } = userApp((stack) => ({
      functionProps: {
        entry: ECHO_HANDLER_ENTRY,
        role: new iam.Role(stack, 'OwnRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
      },
    }));
    expect(findings(app)).toContain('NIST.800.53.R5-IAMNoInlinePolicy @ User/OwnRole/DefaultPolicy/Resource');
  });

  test('an opt-in that fixes a finding removes its acknowledgement: tracing, concurrency and VPC are not hidden when set', () => {
    const { consumer } = userApp(() => ({
      functionProps: { entry: ECHO_HANDLER_ENTRY, tracing: lambda.Tracing.ACTIVE, reservedConcurrentExecutions: 4 },
    }));
    const acknowledged = acknowledgedIds(consumer.function);
    expect(acknowledged).not.toContain('Serverless-LambdaTracing');
    expect(acknowledged).not.toContain('NIST.800.53.R5-LambdaConcurrency');
    expect(acknowledged).toContain('NIST.800.53.R5-LambdaInsideVPC');
    expect(acknowledged).toContain('Serverless-LambdaDLQ');
  });
});

/** The rule ids acknowledged on one construct. */
function acknowledgedIds(construct: { node: KclConsumer['node'] }): string[] {
  return construct.node.metadata
    .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
    .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
    .map((id) => id.replace(/^annotation::/i, ''));
}

describe("the checkpoint table, which cdk-nag's DynamoDB rules do not see", () => {
  test('cdk-nag skips AWS::DynamoDB::GlobalTable: a TableV2 without PITR raises no DynamoDB finding', () => {
    const app = new App();
    const stack = new Stack(app, 'Bare');
    new dynamodb.TableV2(stack, 'NoPitr', { partitionKey: { name: 'k', type: dynamodb.AttributeType.STRING } });
    expect(findings(app).filter((finding) => /DynamoDB/.test(finding))).toEqual([]);
    // The same table as AWS::DynamoDB::Table is flagged, so the rules exist and simply skip GlobalTable.
    new dynamodb.Table(stack, 'Classic', { partitionKey: { name: 'k', type: dynamodb.AttributeType.STRING } });
    expect(findings(app).some((finding) => /DynamoDBPITREnabled @ Bare\/Classic/.test(finding))).toBe(true);
  });

  test('so the tests check what those rules mean: every replica has PITR and deletion protection, and the table is retained', () => {
    const { consumer } = userApp(() => ({}));
    const table = consumer.checkpointTable.node.defaultChild as dynamodb.CfnGlobalTable;
    const stack = Stack.of(consumer);
    const replicas = stack.resolve(table.replicas) as Array<Record<string, any>>;
    expect(replicas.length).toBeGreaterThan(0);
    for (const replica of replicas) {
      expect(replica.pointInTimeRecoverySpecification).toEqual({ pointInTimeRecoveryEnabled: true });
      expect(replica.deletionProtectionEnabled).toBe(true);
    }
    expect(table.cfnOptions.deletionPolicy).toBe('Retain');
    expect(table.cfnOptions.updateReplacePolicy).toBe('Retain');
    // On-demand billing: the provisioned-capacity autoscaling rules do not apply.
    expect(table.billingMode).toBe('PAY_PER_REQUEST');
  });
});
