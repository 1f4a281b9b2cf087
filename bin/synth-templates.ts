import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { createExampleApp } from './app';
import { MultiLangStack } from '../examples/multilang/multilang-consumers';
import { KclConsumer, type KclConsumerProps, OnFailureDestination } from '../lib';

/**
 * Synthesizes the example app and one stack per variant of the construct
 * (every on-failure destination type, fan-out, customer keys, retries, filters,
 * a given function) and the MultiLang packaging stack into a folder, for template linters such as cfn-lint.
 * Usage: tsx bin/synth-templates.ts <out-dir>; prints one template path a line.
 */
const HANDLER = path.join(__dirname, '..', 'examples', 'handler.ts');

const VARIANTS: Record<string, (stack: Stack) => Partial<KclConsumerProps>> = {
  SnsDestination: (stack) => ({
    onFailure: OnFailureDestination.topic(new sns.Topic(stack, 'Failures', { masterKey: new kms.Key(stack, 'Key') })),
  }),
  S3Destination: (stack) => ({
    onFailure: OnFailureDestination.bucket(
      new s3.Bucket(stack, 'Failures', { encryption: s3.BucketEncryption.KMS, enforceSSL: true }),
    ),
  }),
  GivenQueueWithKey: (stack) => ({
    onFailure: OnFailureDestination.queue(
      new sqs.Queue(stack, 'Failures', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: new kms.Key(stack, 'Key'),
        enforceSSL: true,
      }),
    ),
  }),
  NoDestination: () => ({ onFailure: OnFailureDestination.none() }),
  EnhancedFanOut: () => ({ enhancedFanOut: true }),
  CustomerKeyStream: (stack) => ({
    stream: new kinesis.Stream(stack, 'Stream', { encryptionKey: new kms.Key(stack, 'StreamKey') }),
  }),
  LogGroupKey: (stack) => ({ logGroupEncryptionKey: new kms.Key(stack, 'LogKey', { enableKeyRotation: true }) }),
  RetryUntilRecordAge: () => ({ retryAttempts: -1, maxBatchingWindow: Duration.seconds(5) }),
  FiltersAtTimestamp: () => ({
    filters: [lambda.FilterCriteria.filter({ partitionKey: lambda.FilterRule.isEqual('orders') })],
    startingPosition: lambda.StartingPosition.AT_TIMESTAMP,
    startingPositionTimestamp: new Date('2026-01-01T00:00:00Z'),
  }),
  GivenFunction: (stack) => ({
    function: new lambda.Function(stack, 'Processor', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    }),
  }),
};

export function synthesizeTemplates(outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const example = createExampleApp().app.synth({ force: true });
  const templates = example.stacks.map((s) => copyTemplate(s.templateFullPath, outDir));

  // Variants skip bundling: the linter reads the template, not the code.
  const app = new App({ outdir: path.join(outDir, 'variants.out'), context: { 'aws:cdk:bundling-stacks': [] } });
  for (const [name, props] of Object.entries(VARIANTS)) {
    const stack = new Stack(app, `KclVariant${name}`);
    const given = props(stack);
    const functionChoice = given.function ? {} : { functionProps: { entry: HANDLER } };
    new KclConsumer(stack, 'Consumer', { ...functionChoice, ...given });
  }
  // A customer-key table needs a stack with a region.
  const regional = new Stack(app, 'KclVariantCustomerKeyTable', { env: { account: '111122223333', region: 'eu-west-1' } });
  new KclConsumer(regional, 'Consumer', {
    functionProps: { entry: HANDLER },
    checkpointTable: new dynamodb.TableV2(regional, 'Table', {
      partitionKey: { name: 'leaseKey', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(new kms.Key(regional, 'TableKey')),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    }),
  });
  // The MultiLang recipes (examples/multilang). With bundling skipped the Go binary is never
  // copied (that is a bundling hook), so none is built; the Python function's image is a
  // container asset, which synthesizes without Docker (it is built when deploying).
  new MultiLangStack(app, 'KclMultiLang', { goBinary: path.join(outDir, 'kcl-processor-not-built') });
  for (const s of app.synth().stacks) templates.push(copyTemplate(s.templateFullPath, outDir));
  return templates;
}

function copyTemplate(from: string, outDir: string): string {
  const to = path.join(outDir, path.basename(from));
  fs.copyFileSync(from, to);
  return to;
}

if (require.main === module) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: tsx bin/synth-templates.ts <out-dir>');
    process.exit(2);
  }
  for (const template of synthesizeTemplates(path.resolve(outDir))) console.log(template);
}
