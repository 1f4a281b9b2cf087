import * as fs from 'fs';
import * as path from 'path';
import { Validations, type App, type Stack } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { createExampleApp } from '../../bin/app';
import type { KclConsumer } from '../../lib';

const byPathAndId = (a: { path: string; id: string }, b: { path: string; id: string }) =>
  `${a.path} ${a.id}`.localeCompare(`${b.path} ${b.id}`);

/** Asset hashes change with every edit to lambda/ or examples/; the snapshot should not. */
function normalizeAssetHashes(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}(\.zip)?/g, 'ASSET_HASH$1'));
}

describe('example app (bin/app.ts)', () => {
  let app: App;
  let stack: Stack;
  let consumer: KclConsumer;
  let assembly: CloudAssembly;
  let template: { Resources: Record<string, any>; [key: string]: unknown };
  const dockerBefore = process.env.CDK_DOCKER;

  beforeAll(() => {
    // If bundling fell back to Docker, CDK would run this binary and synthesis would fail.
    process.env.CDK_DOCKER = path.join(__dirname, 'no-docker-here');
    ({ app, stack, consumer } = createExampleApp());
    // Synthesis runs the cdk-nag plugin as `npx cdk synth` does, and fails on any finding.
    assembly = app.synth();
    template = assembly.getStackByName(stack.stackName).template;
  });

  afterAll(() => {
    if (dockerBefore === undefined) delete process.env.CDK_DOCKER;
    else process.env.CDK_DOCKER = dockerBefore;
    fs.rmSync(assembly.directory, { recursive: true, force: true });
  });

  test('template matches the snapshot (asset hashes normalized)', () => {
    // CDKMetadata (added only under the CLI) carries library versions, not the app's design.
    const { CDKMetadata: _versions, ...resources } = template.Resources;
    expect(resources).not.toHaveProperty('CDKMetadata');
    expect(normalizeAssetHashes({ ...template, Resources: resources })).toMatchSnapshot();
  });

  test('the processor is bundled locally by esbuild, the AWS SDK included', () => {
    const functionResource = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    const assetHash = String(functionResource.Properties.Code.S3Key).replace(/\.zip$/, '');
    const bundle = fs.readFileSync(path.join(assembly.directory, `asset.${assetHash}`, 'index.js'), 'utf8');
    // Nothing is left to the Lambda runtime, which does not make @smithy/* importable
    // (a `[require("@aws-sdk/…")]` inside an SDK error message is text, not a call).
    expect(bundle).not.toMatch(/(?<![\w$[])require\("@(aws-sdk|smithy)\//);
    expect(bundle).toContain('DynamoDB_20120810'); // the DynamoDB client's JSON protocol target prefix
    expect(bundle).toContain('socketAcquisitionWarningTimeout'); // a message of @smithy/node-http-handler's
    expect(bundle).toMatch(/withKclProcessor|handler/);
    expect(fs.existsSync(path.join(assembly.directory, `asset.${assetHash}`, 'index.js.map'))).toBe(true);
  });

  test('the function runs the example handler with the runtime environment', () => {
    const functionResource = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
    expect(functionResource.Properties.Handler).toBe('index.handler');
    expect(Object.keys(functionResource.Properties.Environment.Variables).sort()).toEqual([
      'KCL_APPLICATION_NAME',
      'KCL_CHECKPOINT_TABLE',
      'KCL_MAX_RECORD_AGE_SECONDS',
      'KCL_METRICS_NAMESPACE',
      'KCL_STARTING_POSITION',
      'NODE_OPTIONS',
    ]);
    expect(functionResource.Properties.Environment.Variables.KCL_APPLICATION_NAME).toBe('KclLambdaExample-Consumer');
    expect(functionResource.Properties.Environment.Variables.KCL_STARTING_POSITION).toBe('TRIM_HORIZON');
  });

  test('the stack is environment-agnostic (no account or region, no context lookups)', () => {
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });

  test.each([
    ['AwsSolutions', (a: App) => new AwsSolutionsChecks(a)],
    ['Serverless', (a: App) => new ServerlessChecks(a)],
    ['NIST 800-53 R5', (a: App) => new NIST80053R5Checks(a)],
    ['HIPAA Security', (a: App) => new HIPAASecurityChecks(a)],
    ['PCI DSS 3.2.1', (a: App) => new PCIDSS321Checks(a)],
  ])('cdk-nag %s finds nothing left unacknowledged', (_name, pack) => {
    const report = pack(app).validateScope(app);
    expect(report.violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('every alarm notifies the example topic', () => {
    const topics = Object.keys(template.Resources).filter((id) => template.Resources[id].Type === 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    const alarms = Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(consumer.alarms.length);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topics[0] }]);
  });

  test('the acknowledgements are exactly the justified list, each with a reason', () => {
    const acknowledgements = app.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata
          .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((entry) =>
            Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
              path: construct.node.path,
              // CDK files ids without a known prefix as annotations; cdk-nag reads them either way.
              id: id.replace(/^annotation::/i, ''),
              reason,
            })),
          ),
      );
    // All inside the construct (none in the app), each on a resource the construct created.
    const own = (construct: { node: { path: string } }) => construct.node.path;
    const expected = [
      ...['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy'].map((id) => ({ path: own(consumer.onFailureQueue!), id })),
      ...[
        'Serverless-LambdaDLQ',
        'NIST.800.53.R5-LambdaDLQ',
        'HIPAA.Security-LambdaDLQ',
        'Serverless-LambdaTracing',
        'NIST.800.53.R5-LambdaConcurrency',
        'HIPAA.Security-LambdaConcurrency',
        'NIST.800.53.R5-LambdaInsideVPC',
        'HIPAA.Security-LambdaInsideVPC',
        'PCI.DSS.321-LambdaInsideVPC',
      ].map((id) => ({ path: own(consumer.function), id })),
      ...['NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy'].map(
        (id) => ({ path: own(consumer.function.role!), id }),
      ),
      ...[
        'NIST.800.53.R5-CloudWatchLogGroupEncrypted',
        'HIPAA.Security-CloudWatchLogGroupEncrypted',
        'PCI.DSS.321-CloudWatchLogGroupEncrypted',
      ].map((id) => ({ path: `${consumer.node.path}/FunctionLogs`, id })),
    ];
    expect(acknowledgements.map(({ path: at, id }) => ({ path: at, id })).sort(byPathAndId)).toEqual(
      expected.sort(byPathAndId),
    );
    for (const { reason } of acknowledgements) expect(reason.length).toBeGreaterThan(40);
  });
});
