/**
 * The function bundle KclConsumer deploys, run as the Lambda Node.js runtime runs it
 * (test/support/lambda-like-runtime.ts): synthesized by the construct itself (its own
 * esbuild call), copied alone to a folder outside the repository, and invoked in fresh
 * `node` processes with NODE_PATH at a nested `node_modules` holding only the two SDK
 * clients. The runtime builds its own clients from the AWS environment, against
 * dynalite and kinesalite: a new shard's first batch (lineage lookup), the child of a
 * real split (parent drained, SHARD_END written), and the steady state. Both formats,
 * with the SDK bundled (the default) and with the runtime's SDK.
 */
import { builtinModules } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { KclConsumer, KclFunctionBundling } from '../../lib';
import { type LambdaLikeRuntime, lambdaLikeRuntime, runtimeSdkNodeModules, stageBundle } from '../support/lambda-like-runtime';
import { type RuntimeHarness, startRuntimeHarness } from '../support/runtime-harness';
import { putRecords, readShardAsEvent, splitShard } from '../support/kinesis-stream';

const HANDLER_ENTRY = path.join(__dirname, 'fixtures', 'lambda-runtime-handler.ts');
const RUNTIME_CLIENTS = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kinesis'];

interface SynthesizedBundle {
  readonly assetDirectory: string;
  readonly handler: string;
  /** The function's environment as synthesized, without the values that are tokens (the table name). */
  readonly environment: Record<string, string>;
  readonly code: string;
  readonly cleanUp: () => void;
}

/** Synthesizes a stack with a KclConsumer around the fixture handler; returns its function's asset. */
function synthesizeBundle(bundling?: nodejs.BundlingOptions): SynthesizedBundle {
  const app = new App();
  const stack = new Stack(app, 'LambdaLike');
  new KclConsumer(stack, 'Consumer', { functionProps: { entry: HANDLER_ENTRY, bundling } });
  const assembly = app.synth();
  const resources = Object.values(assembly.getStackByName(stack.stackName).template.Resources) as any[];
  const fn = resources.find((resource) => resource.Type === 'AWS::Lambda::Function');
  const assetDirectory = path.join(assembly.directory, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
  const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
  const environment = Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
  const [file] = fs.readdirSync(assetDirectory).filter((name) => /\.m?js$/.test(name));
  return {
    assetDirectory,
    handler: String(fn.Properties.Handler),
    environment,
    code: fs.readFileSync(path.join(assetDirectory, file), 'utf8'),
    cleanUp: () => fs.rmSync(assembly.directory, { recursive: true, force: true }),
  };
}

/**
 * The packages a bundle loads at run time: every import, and every require of a name
 * that is not a Node.js built-in. In an ESM bundle esbuild calls require through a
 * minified shim (`var X=(e=>typeof require<"u"?require:...`); its name is found first.
 * One in brackets is text inside an SDK error message, not code.
 */
function runtimeImports(code: string): string[] {
  const requires = ['require', ...[...code.matchAll(/([\w$]+)=\(\w+=>typeof require<"u"\?require:/g)].map((m) => m[1])];
  const escaped = requires.map((name) => name.replace(/\$/g, '\\$')).join('|');
  const pattern = new RegExp(`(?<![\\w$[])(?:(?:${escaped})\\(|from\\s*|import\\s*\\(?)"([^"]+)"`, 'g');
  const names = new Set<string>();
  for (const match of code.matchAll(pattern)) names.add(match[1]);
  const builtins = new Set(builtinModules);
  return [...names].filter((name) => !name.startsWith('node:') && !builtins.has(name)).sort();
}

function processorCalls(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('KCL_CALL '))
    .map((line) => JSON.parse(line.slice('KCL_CALL '.length)) as Record<string, unknown>);
}

const RUNTIME_SDK = { externalModules: [...KclFunctionBundling.RUNTIME_PROVIDED_MODULES] };

describe.each([
  ['CommonJS, SDK bundled (the default)', undefined, 'index.js', []],
  ['ESM (bundling.format: OutputFormat.ESM), SDK bundled', { format: nodejs.OutputFormat.ESM }, 'index.mjs', []],
  ["CommonJS, the runtime's SDK (externalModules: ['@aws-sdk/*'])", RUNTIME_SDK, 'index.js', RUNTIME_CLIENTS],
  ["ESM, the runtime's SDK", { ...RUNTIME_SDK, format: nodejs.OutputFormat.ESM }, 'index.mjs', RUNTIME_CLIENTS],
])('the KclConsumer function bundle, %s, on a Lambda-like runtime', (_name, bundling, bundleFile, fromRuntime) => {
  let harness: RuntimeHarness;
  let bundle: SynthesizedBundle;
  let runtime: LambdaLikeRuntime;
  let environment: Record<string, string>;
  let tableName: string;
  let streamName: string;
  let parent: string;
  let child: string;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    bundle = synthesizeBundle(bundling);
    const task = stageBundle(bundle.assetDirectory);
    runtime = lambdaLikeRuntime(task, runtimeSdkNodeModules());
    tableName = await harness.newTable();
    const stream = await harness.newStream(1);
    streamName = stream.streamName;
    parent = stream.shardIds[0];
    environment = {
      ...bundle.environment,
      KCL_CHECKPOINT_TABLE: tableName,
      AWS_ENDPOINT_URL_DYNAMODB: harness.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_KINESIS: harness.kinesisEndpoint,
    };
  }, 180_000);

  afterAll(async () => {
    runtime?.dispose();
    bundle?.cleanUp();
    await harness?.close();
  });

  test('the layout is strict: the SDK clients resolve from function code, @smithy packages do not', () => {
    expect(fs.existsSync(path.join(bundle.assetDirectory, bundleFile))).toBe(true);
    expect(runtime.resolves('@aws-sdk/client-kinesis')).toBe(true);
    expect(runtime.resolves('@aws-sdk/client-dynamodb')).toBe(true);
    expect(runtime.resolves('@smithy/node-http-handler')).toBe(false);
    expect(runtime.resolves('@smithy/core')).toBe(false);
  });

  test(`the bundle loads from the runtime only ${fromRuntime.length ? fromRuntime.join(' and ') : 'Node.js built-ins'}`, () => {
    expect(runtimeImports(bundle.code)).toEqual(fromRuntime);
  });

  test("a new shard's first batch (its lineage read with the Kinesis client the handler builds from the environment)", async () => {
    const put = await putRecords(harness.kinesis, streamName, [{ data: 'a' }, { data: 'b' }, { data: 'c' }], { shardId: parent });
    const event = await readShardAsEvent(harness.kinesis, streamName, parent);

    const { response, stdout } = await runtime.invoke(bundle.handler, event, environment);

    expect(response).toEqual({ batchItemFailures: [] });
    const row = await harness.row(tableName, parent);
    expect(row?.checkpoint).toEqual({ S: put[2].sequenceNumber });
    expect(row?.checkpointSubSequenceNumber).toEqual({ N: '0' });
    expect(processorCalls(stdout)).toEqual([
      { call: 'initialize', shardId: parent, extendedSequenceNumber: expect.anything() },
      { call: 'processRecords', shardId: parent, sequenceNumbers: put.map((r) => r.sequenceNumber), data: ['a', 'b', 'c'] },
    ]);
  });

  test('the child of a real split: the drained parent gets shardEnded and SHARD_END, then the child is processed', async () => {
    [child] = await splitShard(harness.kinesis, streamName, parent);
    const put = await putRecords(harness.kinesis, streamName, [{ data: 'd' }, { data: 'e' }], { shardId: child });
    const event = await readShardAsEvent(harness.kinesis, streamName, child);

    const { response, stdout } = await runtime.invoke(bundle.handler, event, environment);

    expect(response).toEqual({ batchItemFailures: [] });
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    const childRow = await harness.row(tableName, child);
    expect(childRow?.checkpoint).toEqual({ S: put[1].sequenceNumber });
    expect(childRow?.parentShardId).toEqual({ SS: [parent] });
    const calls = processorCalls(stdout).map(({ call, shardId }) => `${String(call)} ${String(shardId)}`);
    expect(calls.indexOf(`shardEnded ${parent}`)).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf(`shardEnded ${parent}`)).toBeLessThan(calls.indexOf(`processRecords ${child}`));
  });

  test('the steady state: a batch that replays what was checkpointed delivers only the new records', async () => {
    const before = await harness.row(tableName, child);
    const put = await putRecords(harness.kinesis, streamName, [{ data: 'f' }, { data: 'g' }], { shardId: child });
    // The whole shard again: the two records already checkpointed, then the two new ones.
    const event = await readShardAsEvent(harness.kinesis, streamName, child);
    expect(event.Records).toHaveLength(4);

    const { response, stdout } = await runtime.invoke(bundle.handler, event, environment);

    expect(response).toEqual({ batchItemFailures: [] });
    const after = await harness.row(tableName, child);
    expect(after?.checkpoint).toEqual({ S: put[1].sequenceNumber });
    expect(Number(after?.leaseCounter?.N)).toBeGreaterThan(Number(before?.leaseCounter?.N));
    expect(processorCalls(stdout).filter(({ call }) => call === 'processRecords')).toEqual([
      { call: 'processRecords', shardId: child, sequenceNumbers: put.map((r) => r.sequenceNumber), data: ['f', 'g'] },
    ]);
  });
});

describe("a bundle that leaves @aws-sdk/* and @smithy/* to the runtime (the CDK's default for a NodejsFunction of your own)", () => {
  let harness: RuntimeHarness;
  let bundle: SynthesizedBundle;
  let afterEachDispose: LambdaLikeRuntime | undefined;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    bundle = synthesizeBundle({ externalModules: ['@aws-sdk/*', '@smithy/*'] });
  }, 180_000);

  afterAll(async () => {
    afterEachDispose?.dispose();
    bundle?.cleanUp();
    await harness?.close();
  });

  test("still reads a new shard's lineage: the HTTP handler comes from the Kinesis client's own dependencies", async () => {
    expect(runtimeImports(bundle.code)).toEqual([...RUNTIME_CLIENTS, '@smithy/node-http-handler']);
    const runtime = lambdaLikeRuntime(stageBundle(bundle.assetDirectory), runtimeSdkNodeModules());
    afterEachDispose = runtime;
    const tableName = await harness.newTable();
    const { streamName, shardIds } = await harness.newStream(1);
    const put = await putRecords(harness.kinesis, streamName, [{ data: 'a' }], { shardId: shardIds[0] });
    const event = await readShardAsEvent(harness.kinesis, streamName, shardIds[0]);

    const { response } = await runtime.invoke(bundle.handler, event, {
      ...bundle.environment,
      KCL_CHECKPOINT_TABLE: tableName,
      AWS_ENDPOINT_URL_DYNAMODB: harness.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_KINESIS: harness.kinesisEndpoint,
    });

    expect(response).toEqual({ batchItemFailures: [] });
    expect((await harness.row(tableName, shardIds[0]))?.checkpoint).toEqual({ S: put[0].sequenceNumber });
  });
});
