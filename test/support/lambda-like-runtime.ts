/**
 * A function bundle run the way the Lambda Node.js runtime runs it, in the strictest
 * layout a runtime could have: the bundle alone in a folder outside the repository,
 * `NODE_PATH` at a `node_modules` that holds only `@aws-sdk/client-dynamodb` and
 * `@aws-sdk/client-kinesis`, installed nested (nothing hoisted, so no `@smithy/*`
 * package resolves from function code), each invocation in a fresh `node` process.
 *
 * Lambda loads a `.js` handler with `require` and an `.mjs` one with `import()`; its
 * Node.js 18+ runtimes also search NODE_PATH for ES module imports (Node itself does
 * not), which a resolve hook reproduces here.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');
const RUNTIME_CLIENTS = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-kinesis'];

/** The clients at the versions this repository is tested with, e.g. `@aws-sdk/client-kinesis@3.1143.0`. */
export function runtimeClientSpecs(): string[] {
  return RUNTIME_CLIENTS.map((name) => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    return `${name}@${version}`;
  });
}

/**
 * A `node_modules` with only the runtime's SDK clients, installed nested by npm (from
 * its cache when it can). Kept under the OS temp folder per client versions and
 * reused; built in a scratch folder and renamed, so a reader never sees half of one.
 */
export function runtimeSdkNodeModules(): string {
  const specs = runtimeClientSpecs();
  const key = specs.join('+').replace(/[^a-zA-Z0-9.+-]/g, '_');
  const prefix = path.join(os.tmpdir(), `kcl-lambda-runtime-sdk-${key}`);
  const nodeModules = path.join(prefix, 'node_modules');
  if (fs.existsSync(nodeModules)) return nodeModules;
  const scratch = fs.mkdtempSync(`${prefix}-building-`);
  execFileSync(
    'npm',
    [
      'install',
      '--install-strategy=nested',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--no-save',
      '--no-package-lock',
      '--prefix',
      scratch,
      ...specs,
    ],
    { cwd: scratch, stdio: ['ignore', 'ignore', 'pipe'], env: withoutNpmProjectSettings() },
  );
  try {
    fs.renameSync(scratch, prefix);
  } catch (error) {
    // Another test process finished first; use its copy.
    if (!fs.existsSync(nodeModules)) throw error;
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return nodeModules;
}

/** npm run from a test inherits this project's npm_config_* settings; a fresh install must not. */
function withoutNpmProjectSettings(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

/** A folder outside the repository holding a copy of the bundle's files (what Lambda unzips into /var/task). */
export function stageBundle(assetDirectory: string): string {
  const task = fs.mkdtempSync(path.join(os.tmpdir(), 'kcl-lambda-task-'));
  for (const name of fs.readdirSync(assetDirectory)) fs.copyFileSync(path.join(assetDirectory, name), path.join(task, name));
  if (path.relative(ROOT, task).split(path.sep)[0] !== '..') throw new Error(`${task} is inside the repository`);
  return task;
}

export interface LambdaLikeRuntime {
  /** Invokes `handler` (e.g. `index.handler`) in a fresh process with this environment; returns its response. */
  invoke(handler: string, event: unknown, environment: Record<string, string>): Promise<Invocation>;
  /** Whether `specifier` resolves from function code in this layout (a fresh process, CommonJS resolution). */
  resolves(specifier: string): boolean;
  /** Deletes the staged bundle folder and this runtime's own files. */
  dispose(): void;
}

export interface Invocation {
  readonly response: unknown;
  /** What the function printed (its logs and metrics). */
  readonly stdout: string;
}

const RUNNER = `
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const [task, handlerName, eventFile, responseFile] = process.argv.slice(2);
(async () => {
  const dot = handlerName.lastIndexOf('.');
  const base = path.join(task, handlerName.slice(0, dot));
  const file = fs.existsSync(base + '.mjs') ? base + '.mjs' : base + '.js';
  const mod = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  const handler = mod[handlerName.slice(dot + 1)];
  if (typeof handler !== 'function') throw new Error(handlerName + ' is not a function');
  const deadline = Date.now() + 60000;
  const context = {
    functionName: 'kcl-lambda-like', functionVersion: '$LATEST', awsRequestId: 'lambda-like',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:kcl-lambda-like',
    memoryLimitInMB: '256', logGroupName: '/aws/lambda/kcl-lambda-like', logStreamName: 'lambda-like',
    callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  const response = await handler(JSON.parse(fs.readFileSync(eventFile, 'utf8')), context);
  fs.writeFileSync(responseFile, JSON.stringify(response === undefined ? null : response));
  process.exit(0);
})().catch((error) => {
  process.stderr.write('INVOKE FAILED: ' + (error && error.stack ? error.stack : String(error)) + '\\n');
  process.exit(1);
});
`;

// Lambda's Node.js runtimes search NODE_PATH for ES module imports too.
const NODE_PATH_FOR_ESM = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
  import * as path from 'node:path';
  import { pathToFileURL } from 'node:url';
  const folders = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  export async function resolve(specifier, context, next) {
    try {
      return await next(specifier, context);
    } catch (error) {
      const bare = !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':');
      if (!bare || error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      for (const folder of folders) {
        try {
          return await next(specifier, { ...context, parentURL: pathToFileURL(path.join(folder, 'lambda-like.mjs')).href });
        } catch {}
      }
      throw error;
    }
  }
\`));
`;

const execFileAsync = promisify(execFile);

/** The runtime for a staged bundle folder (see `stageBundle`), with NODE_PATH at `nodeModules`. */
export function lambdaLikeRuntime(task: string, nodeModules: string): LambdaLikeRuntime {
  const support = fs.mkdtempSync(path.join(os.tmpdir(), 'kcl-lambda-runtime-'));
  const runner = path.join(support, 'runner.cjs');
  const esmHook = path.join(support, 'node-path-for-esm.mjs');
  fs.writeFileSync(runner, RUNNER);
  fs.writeFileSync(esmHook, NODE_PATH_FOR_ESM);
  // Only what Lambda sets: no inherited NODE_OPTIONS, npm settings or AWS profile.
  const baseEnvironment = {
    PATH: path.dirname(process.execPath),
    HOME: support,
    NODE_PATH: nodeModules,
    LAMBDA_TASK_ROOT: task,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  let count = 0;
  return {
    async invoke(handler, event, environment) {
      count += 1;
      const eventFile = path.join(support, `event-${count}.json`);
      const responseFile = path.join(support, `response-${count}.json`);
      fs.writeFileSync(eventFile, JSON.stringify(event));
      try {
        const { stdout } = await execFileAsync(
          process.execPath,
          ['--import', esmHook, runner, task, handler, eventFile, responseFile],
          { cwd: task, env: { ...baseEnvironment, ...environment }, maxBuffer: 64 * 1024 * 1024 },
        );
        return { response: JSON.parse(fs.readFileSync(responseFile, 'utf8')) as unknown, stdout };
      } catch (error) {
        const { stderr, stdout } = error as { stderr?: string; stdout?: string };
        throw new Error(`The invocation failed:\n${stderr ?? ''}\n${stdout ?? ''}`);
      }
    },
    resolves(specifier) {
      try {
        execFileSync(process.execPath, ['-e', `require.resolve(${JSON.stringify(specifier)})`], {
          cwd: task,
          env: baseEnvironment,
          stdio: 'ignore',
        });
        return true;
      } catch {
        return false;
      }
    },
    dispose() {
      fs.rmSync(support, { recursive: true, force: true });
      fs.rmSync(task, { recursive: true, force: true });
    },
  };
}
