import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import {
  DEFAULT_SETTINGS,
  MappingSettingsError,
  resolveSettings,
  settingsFromTemplate,
  settingsFromTemplateFile,
} from '../../../local/mapping/mapping-settings';

/** A real synthesized template: a function behind a Kinesis event source, as `cdk synth` writes it. */
function synthesize(configure: (stack: Stack, stream: kinesis.Stream, fn: lambda.Function) => void): Record<string, unknown> {
  const app = new App();
  const stack = new Stack(app, 'SettingsTest');
  const stream = new kinesis.Stream(stack, 'Stream');
  const fn = new lambda.Function(stack, 'Fn', {
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
    timeout: Duration.seconds(42),
    functionName: 'consumer-fn',
    environment: { KCL_APPLICATION_NAME: 'orders', KCL_CHECKPOINT_TABLE: 'literal-table' },
  });
  configure(stack, stream, fn);
  return app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>;
}

test('reads the event source mapping and function settings from a synthesized template', () => {
  const template = synthesize((_stack, stream, fn) =>
    fn.addEventSource(
      new KinesisEventSource(stream, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 250,
        maxBatchingWindow: Duration.seconds(3),
        retryAttempts: 4,
        maxRecordAge: Duration.hours(2),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
      }),
    ),
  );
  expect(settingsFromTemplate(template)).toEqual({
    batchSize: 250,
    maximumBatchingWindowInSeconds: 3,
    startingPosition: 'LATEST',
    startingPositionTimestamp: undefined,
    maximumRetryAttempts: 4,
    maximumRecordAgeInSeconds: 7200,
    bisectBatchOnFunctionError: true,
    reportBatchItemFailures: true,
    functionTimeoutSeconds: 42,
    functionName: 'consumer-fn',
    environment: { KCL_APPLICATION_NAME: 'orders', KCL_CHECKPOINT_TABLE: 'literal-table' },
  });

  const file = join(mkdtempSync(join(tmpdir(), 'settings-')), 'stack.template.json');
  writeFileSync(file, JSON.stringify(template));
  expect(settingsFromTemplateFile(file).batchSize).toBe(250);
});

test("a mapping that sets little gets Lambda's defaults", () => {
  const template = synthesize((_stack, stream, fn) =>
    fn.addEventSource(new KinesisEventSource(stream, { startingPosition: lambda.StartingPosition.TRIM_HORIZON })),
  );
  expect(settingsFromTemplate(template)).toMatchObject({
    batchSize: 100,
    maximumBatchingWindowInSeconds: 0,
    maximumRetryAttempts: -1,
    maximumRecordAgeInSeconds: -1,
    bisectBatchOnFunctionError: false,
    reportBatchItemFailures: false,
  });
});

test('refuses templates the runner cannot honour, naming the reason', () => {
  const parallel = synthesize((_stack, stream, fn) =>
    fn.addEventSource(
      new KinesisEventSource(stream, { startingPosition: lambda.StartingPosition.TRIM_HORIZON, parallelizationFactor: 2 }),
    ),
  );
  expect(() => settingsFromTemplate(parallel)).toThrow(/ParallelizationFactor 2/);

  const none = synthesize(() => undefined);
  expect(() => settingsFromTemplate(none)).toThrow(new MappingSettingsError('The template has no AWS::Lambda::EventSourceMapping resource.'));

  const two = synthesize((stack, stream, fn) => {
    fn.addEventSource(new KinesisEventSource(stream, { startingPosition: lambda.StartingPosition.TRIM_HORIZON }));
    fn.addEventSource(
      new KinesisEventSource(new kinesis.Stream(stack, 'Other'), { startingPosition: lambda.StartingPosition.TRIM_HORIZON }),
    );
  });
  expect(() => settingsFromTemplate(two)).toThrow(/2 event source mappings .*; name one/);
  const [firstId] = Object.entries(two.Resources as Record<string, { Type: string }>).find(
    ([, resource]) => resource.Type === 'AWS::Lambda::EventSourceMapping',
  )!;
  expect(settingsFromTemplate(two, { eventSourceMappingLogicalId: firstId }).functionName).toBe('consumer-fn');

  expect(() => settingsFromTemplate({ nope: true })).toThrow(/no Resources section/);
});

test('explicit props override the defaults and are checked against Lambda ranges', () => {
  expect(resolveSettings({ batchSize: 7, bisectBatchOnFunctionError: undefined })).toEqual({ ...DEFAULT_SETTINGS, batchSize: 7 });
  expect(() => resolveSettings({ batchSize: 0 })).toThrow(/batchSize must be an integer in \[1, 10000\], got 0/);
  expect(() => resolveSettings({ startingPosition: 'AT_TIMESTAMP' })).toThrow(/needs startingPositionTimestamp/);
  expect(() => resolveSettings({ maximumRetryAttempts: -2 })).toThrow(/maximumRetryAttempts/);
});

test('a record age below 60 s and a fractional batching window are refused, as AWS refuses them', () => {
  expect(() => resolveSettings({ maximumRecordAgeInSeconds: 59 })).toThrow(/maximumRecordAgeInSeconds must be an integer in \[60, 604800\], got 59/);
  expect(resolveSettings({ maximumRecordAgeInSeconds: 60 }).maximumRecordAgeInSeconds).toBe(60);
  expect(resolveSettings({ maximumRecordAgeInSeconds: -1 }).maximumRecordAgeInSeconds).toBe(-1);
  expect(() => resolveSettings({ maximumBatchingWindowInSeconds: 0.5 })).toThrow(
    /maximumBatchingWindowInSeconds must be an integer in \[0, 300\], got 0.5/,
  );
  expect(resolveSettings({ maximumBatchingWindowInSeconds: 300 }).maximumBatchingWindowInSeconds).toBe(300);
});

test('a template with FilterCriteria is refused: the runner would deliver records Lambda drops', () => {
  const filtered = synthesize((_stack, stream, fn) =>
    fn.addEventSource(
      new KinesisEventSource(stream, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        filters: [lambda.FilterCriteria.filter({ data: { kind: lambda.FilterRule.isEqual('order') } })],
      }),
    ),
  );
  expect(() => settingsFromTemplate(filtered)).toThrow(MappingSettingsError);
  expect(() => settingsFromTemplate(filtered)).toThrow(/sets FilterCriteria, which the local runner does not emulate/);
});

test('a template whose event source is an enhanced fan-out consumer is read', () => {
  const template = synthesize((stack, stream, fn) => {
    const consumer = new kinesis.CfnStreamConsumer(stack, 'Consumer', { consumerName: 'efo', streamArn: stream.streamArn });
    // The mapping reads through the consumer: its ARN (Ref) is the event source.
    new lambda.EventSourceMapping(stack, 'Efo', {
      target: fn,
      eventSourceArn: consumer.ref,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 11,
    });
    stream.grantRead(fn);
  });
  const resources = Object.values(template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
  expect(resources.find((resource) => resource.Type === 'AWS::Lambda::EventSourceMapping')?.Properties.EventSourceArn).toEqual({
    Ref: expect.stringMatching(/^Consumer/),
  });
  expect(settingsFromTemplate(template)).toMatchObject({ batchSize: 11, functionName: 'consumer-fn', functionTimeoutSeconds: 42 });
  // Also when a second, non-Kinesis mapping is next to it.
  expect(
    settingsFromTemplate({
      Resources: {
        ...(template.Resources as object),
        Queue: { Type: 'AWS::SQS::Queue' },
        QueueMapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] } } },
      },
    }).batchSize,
  ).toBe(11);
});
