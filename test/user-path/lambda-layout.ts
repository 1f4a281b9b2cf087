import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';

/**
 * The strictest layout a Lambda Node.js runtime could have: the function's bundle
 * alone in its folder (like /var/task), and NODE_PATH at a node_modules that holds
 * only @aws-sdk/client-dynamodb and @aws-sdk/client-kinesis, installed nested so
 * that nothing else (no @smithy/*, no @aws-sdk/core) resolves from the top.
 */
export interface LambdaLayout {
  readonly taskDirectory: string;
  readonly nodePath: string;
}

/** Installs the two clients nested under `directory/runtime` and copies the bundle to `directory/task`. */
export function prepareLambdaLayout(directory: string, bundleDirectory: string, run: (command: string, cwd: string) => void): LambdaLayout {
  const runtime = join(directory, 'runtime');
  mkdirSync(runtime, { recursive: true });
  writeFileSync(join(runtime, 'package.json'), '{"private":true}\n');
  run(
    'npm install --prefer-offline --no-audit --no-fund --no-package-lock --install-strategy=nested @aws-sdk/client-dynamodb @aws-sdk/client-kinesis',
    runtime,
  );
  const topLevel = readdirSync(join(runtime, 'node_modules')).filter((name) => !name.startsWith('.'));
  const scoped = readdirSync(join(runtime, 'node_modules', '@aws-sdk'));
  if (topLevel.join() !== '@aws-sdk' || scoped.sort().join() !== 'client-dynamodb,client-kinesis') {
    throw new Error(`The runtime node_modules holds more than the two clients: ${topLevel.join(', ')} / @aws-sdk: ${scoped.join(', ')}`);
  }
  const task = join(directory, 'task');
  cpSync(bundleDirectory, task, { recursive: true });
  return { taskDirectory: task, nodePath: join(runtime, 'node_modules') };
}

/** Runs in a fresh node: requires the bundle as Lambda does and invokes its handler once. */
const INVOKE = `
const [file, eventJson] = [process.argv[2], require('node:fs').readFileSync(0, 'utf8')];
const started = Date.now();
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST', memoryLimitInMB: '256',
  awsRequestId: require('node:crypto').randomUUID(), logGroupName: 'local', logStreamName: 'local',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:' + process.env.AWS_LAMBDA_FUNCTION_NAME,
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 60000 - (Date.now() - started),
  done() {}, fail() {}, succeed() {},
};
Promise.resolve()
  .then(() => require(file).handler(JSON.parse(eventJson), context))
  .then((response) => { process.stdout.write('\\n@@RESPONSE@@' + JSON.stringify(response ?? null) + '\\n'); })
  .catch((error) => { process.stdout.write('\\n@@ERROR@@' + JSON.stringify(String(error && error.stack || error)) + '\\n'); process.exitCode = 1; });
`;

export type InvocationResult = { readonly response: unknown; readonly output: string } | { readonly error: string; readonly output: string };

/** Invokes the bundle's handler in a fresh process in the layout, with the function's environment. */
export function invokeInLayout(layout: LambdaLayout, event: KinesisStreamEvent, environment: Record<string, string>): InvocationResult {
  let output: string;
  try {
    output = execFileSync(process.execPath, ['-e', INVOKE, join(layout.taskDirectory, 'index.js')], {
      cwd: layout.taskDirectory,
      input: JSON.stringify(event),
      env: { PATH: process.env.PATH ?? '', NODE_PATH: layout.nodePath, ...environment },
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
  const response = /@@RESPONSE@@(.*)/.exec(output);
  if (response) return { response: JSON.parse(response[1]) as unknown, output };
  const thrown = /@@ERROR@@(.*)/.exec(output);
  return { error: thrown ? (JSON.parse(thrown[1]) as string) : 'the process ended without an answer', output };
}
