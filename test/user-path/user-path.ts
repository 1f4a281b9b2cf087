/**
 * What a new user does, outside this repository (`npm run test:user-path`):
 * pack the library from a clean clone, install the tarball into a fresh CDK app,
 * type-check it, run its snapshot test from two folders, synthesize it, run the
 * synthesized bundle in a Lambda-like layout against dynalite and kinesalite, and
 * run `npx kcl-lambda local` from the installed package. The app's code and
 * commands are the README's "Use it in your app" blocks.
 *
 *   npx tsx test/user-path/user-path.ts [--keep]
 *   npx tsx test/user-path/user-path.ts --cdk-floor 2.227.0   # the aws-cdk-lib floor: synth the example stack with it
 */
import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localDynamoDbClient, localKinesisClient, startDynalite, startKinesalite } from '../../local/emulators/emulators';
import { createStream, ensureCheckpointTable, readCheckpointRows } from '../../local/emulators/local-services';
import { toKinesisStreamEvent } from '../../local/mapping/kinesis-event';
import { settingsFromTemplateFile } from '../../local/mapping/mapping-settings';
import { listAllShards, splitShardInHalf } from '../../local/mapping/resharding';
import { lambdaLikeRuntime, runtimeSdkNodeModules, stageBundle, type LambdaLikeRuntime } from '../support/lambda-like-runtime';
import { commandsOf, readmeBlocks } from './readme-blocks';

const ROOT = resolve(__dirname, '..', '..');
const REPO_PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const NPM_FLAGS = '--prefer-offline --no-audit --no-fund';

class StepFailed extends Error {}

let stepNumber = 0;
async function step<T>(name: string, body: () => T | Promise<T>): Promise<T> {
  stepNumber += 1;
  const began = Date.now();
  process.stdout.write(`\n▶ ${stepNumber}. ${name}\n`);
  try {
    const result = await body();
    process.stdout.write(`✔ ${stepNumber}. ${name} (${((Date.now() - began) / 1000).toFixed(1)} s)\n`);
    return result;
  } catch (error) {
    process.stdout.write(`✘ ${stepNumber}. ${name}\n`);
    throw error;
  }
}

/**
 * The environment of a user's shell: without what `npm run` adds (this repo's
 * node_modules/.bin on PATH, npm_* settings), so nothing of the repository leaks in.
 */
function userEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'INIT_CWD') env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((entry) => !entry.startsWith(ROOT) && !entry.includes('node-gyp-bin'))
    .join(':');
  return { ...env, FORCE_COLOR: '0', NO_COLOR: '1', CI: 'true', ...extra };
}

/** Runs one shell command as the user would; prints it, and its output when it fails. */
function sh(command: string, cwd: string, extra: Record<string, string> = {}): string {
  process.stdout.write(`  $ ${command}\n`);
  try {
    return execSync(command, { cwd, env: userEnvironment(extra), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; status?: number };
    throw new StepFailed(`\`${command}\` (in ${cwd}) exited with ${failed.status}:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

function check(condition: unknown, message: string): void {
  if (!condition) throw new StepFailed(message);
}

/** A clone of this repository's HEAD: what `git clone` gives a user (uncommitted changes are not in it). */
function cleanClone(work: string): string {
  const clone = join(work, 'clone');
  if (execSync('git status --porcelain', { cwd: ROOT, encoding: 'utf8' }).trim() !== '') {
    process.stdout.write('  note: the working tree has uncommitted changes; the clone has HEAD only\n');
  }
  sh(`git clone --quiet ${JSON.stringify(ROOT)} ${JSON.stringify(clone)}`, work);
  sh(`npm ci ${NPM_FLAGS}`, clone);
  return clone;
}

/** The files `cdk init app --language typescript` would give, with this repo's tool pins (TypeScript ~5.9 for ts-jest). */
function writeFreshApp(app: string, blocks: Map<string, string>): void {
  const pin = (name: string) => REPO_PACKAGE.devDependencies[name];
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name: 'orders',
        version: '0.1.0',
        private: true,
        bin: { orders: 'bin/orders.js' },
        scripts: { build: 'tsc', test: 'jest', cdk: 'cdk' },
        devDependencies: {
          '@types/jest': pin('@types/jest'),
          '@types/node': pin('@types/node'),
          'aws-cdk': pin('aws-cdk'),
          jest: pin('jest'),
          'ts-jest': pin('ts-jest'),
          tsx: pin('tsx'),
          typescript: pin('typescript'),
        },
        dependencies: { 'aws-cdk-lib': pin('aws-cdk-lib'), constructs: pin('constructs') },
      },
      null,
      2,
    )}\n`,
    'cdk.json': `${JSON.stringify({ app: 'npx tsx bin/orders.ts', watch: { include: ['**'], exclude: ['cdk.out', 'node_modules', 'test'] } }, null, 2)}\n`,
    'jest.config.js': "module.exports = {\n  testEnvironment: 'node',\n  roots: ['<rootDir>/test'],\n  testMatch: ['**/*.test.ts'],\n  transform: { '^.+\\\\.tsx?$': 'ts-jest' },\n};\n",
    'bin/orders.ts': "#!/usr/bin/env node\nimport * as cdk from 'aws-cdk-lib';\nimport { OrdersStack } from '../lib/orders-stack';\n\nconst app = new cdk.App();\nnew OrdersStack(app, 'OrdersStack');\n",
    '.gitignore': '*.js\n!jest.config.js\n*.d.ts\nnode_modules\ncdk.out\n',
  };
  for (const name of ['tsconfig', 'lib/orders-stack.ts', 'src/orders-handler.ts', 'test/orders-stack.test.ts']) {
    const block = blocks.get(name);
    check(block, `README has no <!-- user-path: ${name} --> block`);
    files[name === 'tsconfig' ? 'tsconfig.json' : name] = block!;
  }
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(app, name)), { recursive: true });
    writeFileSync(join(app, name), text);
  }
}

/** The README's install commands, with the tarball in place of the registry's kcl-lambda. */
function installCommands(blocks: Map<string, string>, tarball: string): string[] {
  const block = blocks.get('install');
  check(block, 'README has no <!-- user-path: install --> block');
  const commands = commandsOf(block!);
  check(commands.some((command) => / kcl-lambda( |$)/.test(command)), 'the README install block does not install kcl-lambda');
  return commands.map((command) => `${command.replace(/ kcl-lambda( |$)/, ` ${tarball}$1`)} ${NPM_FLAGS}`);
}

async function userPath(keep: boolean): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'kcl-user-path-'));
  process.stdout.write(`Working in ${work}\n`);
  const blocks = readmeBlocks(join(ROOT, 'README.md'));
  const commands = commandsOf(blocks.get('commands') ?? '');
  check(commands.length >= 4, 'README has no <!-- user-path: commands --> block with tsc, jest, cdk synth and kcl-lambda local');
  const app = join(work, 'orders');
  let ok = false;
  try {
    const tarball = await step('pack the library from a clean clone (git clone, npm ci, npm pack)', () => {
      const clone = cleanClone(work);
      const packed = JSON.parse(sh(`npm pack --json --pack-destination ${JSON.stringify(work)}`, clone)) as { filename: string; files: { path: string }[] }[];
      const files = new Set(packed[0].files.map((file) => file.path));
      for (const expected of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lambda/index.js', 'dist/lambda/index.d.ts', 'dist/esm/lambda/index.js', 'dist/esm/package.json', 'dist/cli/kcl-lambda.js', 'LICENSE', 'README.md', 'CHANGELOG.md']) {
        check(files.has(expected), `the package lacks ${expected}; it has ${files.size} files`);
      }
      check(![...files].some((file) => /^(lambda|lib|local|cli|test|bench)\//.test(file)), 'the package ships sources or tests');
      process.stdout.write(`  ${packed[0].filename}: ${files.size} files\n`);
      return join(work, packed[0].filename);
    });

    await step('create a fresh CDK app (what cdk init app --language typescript gives) and npm install', () => {
      writeFreshApp(app, blocks);
      sh(`npm install ${NPM_FLAGS}`, app);
    });

    await step("install the tarball with the README's install line", () => {
      for (const command of installCommands(blocks, tarball)) sh(command, app);
      check(existsSync(join(app, 'node_modules', '.bin', 'kcl-lambda')), 'npm linked no kcl-lambda bin');
    });

    const [typeCheck, jest, synth, local] = commands;
    await step(`type-check the app with its tsconfig (${typeCheck}), and under node10, node16 and bundler resolution`, () => {
      sh(typeCheck, app);
      sh(`${typeCheck} --module commonjs --moduleResolution node10`, app);
      sh(`${typeCheck} --module node16 --moduleResolution node16`, app);
      sh(`${typeCheck} --module esnext --moduleResolution bundler`, app);
    });

    await step(`run the snapshot test (${jest}), then again from another folder and TMPDIR against that snapshot`, () => {
      const first = sh(`${jest} --ci=false 2>&1`, app);
      check(/1 snapshot written|Snapshots:\s+1 written/.test(first), `the first run wrote no snapshot:\n${first}`);
      const moved = join(work, 'elsewhere', 'orders-moved');
      cpSync(app, moved, { recursive: true, verbatimSymlinks: true });
      const otherTmp = join(work, 'other-tmp');
      mkdirSync(otherTmp, { recursive: true });
      const second = sh(`${jest} --ci 2>&1`, moved, { TMPDIR: otherTmp });
      check(/Snapshots:\s+1 passed/.test(second), `the second run did not compare against the snapshot:\n${second}`);
    });

    const bundleDirectory = await step(`synthesize the stack (${synth})`, () => {
      sh(synth, app);
      const template = join(app, 'cdk.out', 'OrdersStack.template.json');
      check(existsSync(template), 'cdk synth wrote no OrdersStack template');
      const assets = readdirSync(join(app, 'cdk.out')).filter((name) => name.startsWith('asset.') && existsSync(join(app, 'cdk.out', name, 'index.js')));
      check(assets.length === 1, `expected one function bundle in cdk.out, found ${assets.join(', ') || 'none'}`);
      return join(app, 'cdk.out', assets[0]);
    });

    await step('run the synthesized bundle in the Lambda-like layout (only the two SDK clients on NODE_PATH) against dynalite and kinesalite', async () => {
      const runtime = lambdaLikeRuntime(stageBundle(bundleDirectory), runtimeSdkNodeModules());
      try {
        check(!runtime.resolves('@smithy/node-http-handler'), 'the layout is not strict: @smithy/node-http-handler resolves');
        await invokeAgainstEmulators(runtime, join(app, 'cdk.out', 'OrdersStack.template.json'));
      } finally {
        runtime.dispose();
      }
    });

    await step(`run the handler locally from the installed package (${local})`, () => {
      const output = sh(`${local} 2>&1`, app);
      check(output.includes('Event source mapping (OrdersStack/Orders, synthesized from npx tsx bin/orders.ts)'), `kcl-lambda local did not read the app's consumer:\n${output}`);
      check(/^OK: /m.test(output), `kcl-lambda local did not end OK:\n${output}`);
    });
    await step('the installed bin has the lease-table check (npx kcl-lambda lease-table check --help)', () => {
      const output = sh('npx kcl-lambda lease-table check --help 2>&1', app);
      check(output.includes('Usage: kcl-lambda lease-table check --table <name>'), `kcl-lambda lease-table check --help printed:\n${output}`);
    });
    ok = true;
    process.stdout.write('\nUser path OK.\n');
  } finally {
    if (ok && !keep) rmSync(work, { recursive: true, force: true });
    else process.stdout.write(`Left in ${work}\n`);
  }
}

/** A new shard's first batch, a steady-state batch, and the first batch of a child after a split. */
async function invokeAgainstEmulators(runtime: LambdaLikeRuntime, templateFile: string): Promise<void> {
  const [dynalite, kinesalite] = await Promise.all([startDynalite(), startKinesalite()]);
  const kinesis = localKinesisClient(kinesalite.endpoint);
  const dynamoDb = localDynamoDbClient(dynalite.endpoint);
  try {
    const settings = settingsFromTemplateFile(templateFile);
    const streamName = 'orders';
    const tableName = 'orders-checkpoints';
    await createStream(kinesis, streamName, 1);
    await ensureCheckpointTable(dynamoDb, tableName);
    const { NODE_OPTIONS: nodeOptions, ...fromTemplate } = settings.environment;
    const environment: Record<string, string> = {
      ...fromTemplate,
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      KCL_CHECKPOINT_TABLE: tableName,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_KINESIS: kinesalite.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: settings.functionName,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    check(environment.KCL_APPLICATION_NAME, 'the template gives the function no KCL_APPLICATION_NAME');
    const streamArn = `arn:aws:kinesis:${LOCAL_REGION}:000000000000:stream/${streamName}`;
    const source = { streamArn, region: LOCAL_REGION, invokeIdentityArn: 'arn:aws:iam::000000000000:role/orders' };

    const invoke = async (label: string, shardId: string, from: number, count: number) => {
      await put(kinesis, streamName, from, count);
      const records = await readShard(kinesis, streamName, shardId);
      const batch = records.slice(-count);
      check(batch.length === count, `${label}: read ${batch.length} of ${count} records from ${shardId}`);
      const result = await runtime.invoke('index.handler', toKinesisStreamEvent(shardId, batch, source), environment);
      const response = result.response as { batchItemFailures?: unknown[] } | null;
      check((response?.batchItemFailures ?? []).length === 0, `${label}: records failed: ${JSON.stringify(response)}\n${result.stdout}`);
      const row = (await readCheckpointRows(dynamoDb, tableName)).find((candidate) => candidate.leaseKey === shardId);
      check(row?.checkpoint === batch[batch.length - 1].SequenceNumber, `${label}: checkpoint ${row?.checkpoint}, expected the batch's last record`);
      process.stdout.write(`  ${label}: ${count} records, checkpoint at the last one\n`);
    };

    const [parent] = await listAllShards(kinesis, streamName);
    await invoke('a new shard (its lineage looked up)', parent.ShardId!, 0, 5);
    await invoke('the steady state', parent.ShardId!, 5, 5);
    const children = await splitShardInHalf(kinesis, streamName, parent.ShardId!);
    // Records land by hash key; put until one child has some, then invoke its first batch.
    let index = 10;
    let child: { shardId: string; count: number } | undefined;
    while (!child && index < 200) {
      await put(kinesis, streamName, index, 1);
      index += 1;
      for (const candidate of children) {
        const count = (await readShard(kinesis, streamName, candidate.ShardId!)).length;
        if (count > 0) child = { shardId: candidate.ShardId!, count };
      }
    }
    check(child, 'no record reached a child shard');
    const childRecords = await readShard(kinesis, streamName, child!.shardId);
    const result = await runtime.invoke('index.handler', toKinesisStreamEvent(child!.shardId, childRecords, source), environment);
    const response = result.response as { batchItemFailures?: unknown[] } | null;
    check((response?.batchItemFailures ?? []).length === 0, `the child's first batch failed: ${JSON.stringify(response)}\n${result.stdout}`);
    const rows = await readCheckpointRows(dynamoDb, tableName);
    check(rows.find((row) => row.leaseKey === parent.ShardId)?.checkpoint === 'SHARD_END', `the parent is not at SHARD_END after the child's first batch: ${JSON.stringify(rows)}`);
    process.stdout.write(`  the child of a split (${child!.shardId}): its first batch ended the parent (SHARD_END)\n`);
  } finally {
    kinesis.destroy();
    dynamoDb.destroy();
    await Promise.all([dynalite.close(), kinesalite.close()]);
  }
}

async function put(kinesis: KinesisClient, streamName: string, from: number, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, offset) => ({
    Data: Buffer.from(JSON.stringify({ id: `order-${from + offset}` })),
    PartitionKey: `order-${from + offset}`,
  }));
  const output = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: records }));
  check(!output.FailedRecordCount, 'PutRecords failed');
}

async function readShard(kinesis: KinesisClient, streamName: string, shardId: string) {
  const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  const { Records } = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 10_000 }));
  return Records ?? [];
}

/**
 * The example stack (bin/app.ts without cdk-nag, whose v3 needs aws-cdk-lib 2.257 or
 * later), importing the installed package, in an app that has only that aws-cdk-lib.
 */
const FLOOR_APP = `import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { KclConsumer } from 'kcl-lambda';

const app = new App();
const stack = new Stack(app, 'KclLambdaExample');
new KclConsumer(stack, 'Consumer', {
  functionProps: { entry: path.join(__dirname, 'handler.ts') },
  dashboard: true,
  millisBehindLatestAlarm: Duration.minutes(10),
});
app.synth();
`;

const FLOOR_HANDLER = `import { withRecordHandler } from 'kcl-lambda/lambda';
export const handler = withRecordHandler(async (record) => { JSON.parse(record.data.toString('utf8')); });
`;

/**
 * The aws-cdk-lib floor: a fresh app with exactly that aws-cdk-lib (resolved afresh,
 * as a user's app would, not laid over this repository's lockfile) installs the
 * package packed from a clean clone and synthesizes the example stack, bundled.
 */
async function cdkFloor(version: string, keep: boolean): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'kcl-cdk-floor-'));
  process.stdout.write(`Working in ${work}\n`);
  let ok = false;
  try {
    const tarball = await step('pack the library from a clean clone (git clone, npm ci, npm pack)', () => {
      const clone = cleanClone(work);
      const packed = JSON.parse(sh(`npm pack --json --pack-destination ${JSON.stringify(work)}`, clone)) as { filename: string }[];
      return join(work, packed[0].filename);
    });
    const app = join(work, 'floor-app');
    await step(`a fresh app with aws-cdk-lib@${version} and the tarball`, () => {
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, 'package.json'), '{"name":"floor-app","version":"0.1.0","private":true}\n');
      writeFileSync(join(app, 'app.ts'), FLOOR_APP);
      writeFileSync(join(app, 'handler.ts'), FLOOR_HANDLER);
      const pin = (name: string) => `${name}@${JSON.stringify(REPO_PACKAGE.devDependencies[name])}`;
      sh(`npm install ${NPM_FLAGS} aws-cdk-lib@${version} ${pin('constructs')} ${pin('esbuild')} ${pin('tsx')} ${pin('aws-cdk')}`, app);
      sh(`npm install ${NPM_FLAGS} ${JSON.stringify(tarball)} @aws-sdk/client-dynamodb @aws-sdk/client-kinesis`, app);
      const installed = (JSON.parse(readFileSync(join(app, 'node_modules', 'aws-cdk-lib', 'package.json'), 'utf8')) as { version: string }).version;
      check(installed === version, `installed aws-cdk-lib ${installed}, not ${version}`);
    });
    await step(`synthesize the example stack (KclConsumer with dashboard and alarms, bundled) with aws-cdk-lib@${version}`, () => {
      sh('npx cdk synth --quiet --app "npx tsx app.ts"', app);
      const templateFile = join(app, 'cdk.out', 'KclLambdaExample.template.json');
      check(existsSync(templateFile), 'no KclLambdaExample template');
      const settings = settingsFromTemplateFile(templateFile);
      check(settings.reportBatchItemFailures && settings.environment.KCL_APPLICATION_NAME, 'the template lacks the mapping or the function environment');
    });
    ok = true;
    process.stdout.write(`\naws-cdk-lib@${version} synthesizes the example stack.\n`);
  } finally {
    if (ok && !keep) rmSync(work, { recursive: true, force: true });
    else process.stdout.write(`Left in ${work}\n`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { keep: { type: 'boolean' }, 'cdk-floor': { type: 'string' } } });
  if (values['cdk-floor']) await cdkFloor(values['cdk-floor'], values.keep === true);
  else await userPath(values.keep === true);
}

main().catch((error: unknown) => {
  process.stdout.write(`\n${error instanceof StepFailed ? error.message : error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
