/**
 * The deployed function bundle, two ways: the AWS SDK bundled in (what KclConsumer
 * deploys) against the SDK left to the Lambda runtime (`externalModules: ['@aws-sdk/*']`).
 *
 * Both bundle examples/handler.ts with the options KclConsumer's NodejsFunction passes
 * esbuild (minified, source map, platform node, target node24, CommonJS) and run as the
 * Lambda runtime runs them: alone in a temporary folder, `NODE_PATH` at a `node_modules`
 * holding only `@aws-sdk/client-dynamodb` and `@aws-sdk/client-kinesis` installed nested
 * (test/support/lambda-like-runtime.ts), with the construct's
 * `NODE_OPTIONS=--enable-source-maps`. Cold start is the time, inside a fresh `node`
 * process, to load the bundle and build the handler; the entries run in turn (median).
 *
 *   node -r ./bench/typescript-as-shipped.cjs bench/function-bundle.bench.ts
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { build } from 'esbuild';
import { KclFunctionBundling } from '../lib/function-bundling';
import { runtimeSdkNodeModules } from '../test/support/lambda-like-runtime';
import { type ReportRow, type ReportSection, runStandalone } from './report';
import { median } from './median';

const ROOT = path.resolve(__dirname, '..');
const ENTRY = 'examples/handler.ts';

const SDK_BUNDLED = 'AWS SDK bundled (KclConsumer: nothing external)';
const SDK_FROM_RUNTIME = "AWS SDK from the runtime (externalModules: ['@aws-sdk/*'])";

const VARIANTS: readonly { readonly name: string; readonly external: readonly string[] }[] = [
  { name: SDK_BUNDLED, external: [] },
  { name: SDK_FROM_RUNTIME, external: KclFunctionBundling.RUNTIME_PROVIDED_MODULES },
];

export interface FunctionBundleSettings {
  /** Fresh processes per variant. */
  readonly runs: number;
}

export const DEFAULT_SETTINGS: FunctionBundleSettings = { runs: 30 };

function coldStartOnce(task: string, nodeModules: string): number {
  const probe =
    'const t0 = process.hrtime.bigint();' +
    "const m = require('./index.js');" +
    'const h = m.handler;' +
    'const t1 = process.hrtime.bigint();' +
    "if (typeof h !== 'function') throw new Error('no handler');" +
    'process.stdout.write(String(Number(t1 - t0) / 1e6));';
  return Number(
    execFileSync(process.execPath, ['-e', probe], {
      cwd: task,
      env: {
        PATH: path.dirname(process.execPath),
        NODE_PATH: nodeModules,
        NODE_OPTIONS: '--enable-source-maps',
        AWS_REGION: 'us-east-1',
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
}


export async function run(settings: FunctionBundleSettings = DEFAULT_SETTINGS): Promise<ReportSection> {
  const nodeModules = runtimeSdkNodeModules();
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'kcl-bench-function-bundle-'));
  try {
    const bundles = await Promise.all(
      VARIANTS.map(async (variant, index) => {
        const task = path.join(folder, `task-${index}`);
        fs.mkdirSync(task);
        await build({
          entryPoints: [path.join(ROOT, ENTRY)],
          outfile: path.join(task, 'index.js'),
          bundle: true,
          minify: true,
          sourcemap: true,
          platform: 'node',
          target: 'node24',
          format: 'cjs',
          external: [...variant.external],
          logLevel: 'silent',
        });
        const code = fs.readFileSync(path.join(task, 'index.js'));
        const mapBytes = fs.statSync(path.join(task, 'index.js.map')).size;
        return { variant, task, bytes: code.length, gzipBytes: zlib.gzipSync(code, { level: 9 }).length, mapBytes };
      }),
    );
    const times = new Map<string, number[]>(VARIANTS.map((variant) => [variant.name, []]));
    for (let round = 0; round < settings.runs; round += 1) {
      for (const { variant, task } of bundles) times.get(variant.name)?.push(coldStartOnce(task, nodeModules));
    }
    const baseline = median(times.get(SDK_BUNDLED) ?? []);
    const title = 'Function bundle: AWS SDK bundled vs from the runtime';
    const rows: ReportRow[] = bundles.map(({ variant, bytes, gzipBytes, mapBytes }) => {
      const samples = times.get(variant.name) ?? [];
      const ms = median(samples);
      return {
        section: title,
        name: variant.name,
        value: ms,
        unit: 'ms (median)',
        display: `${ms.toFixed(2)} ms cold start; ${(bytes / 1024).toFixed(1)} KB (${(gzipBytes / 1024).toFixed(1)} KB gzip), map ${(mapBytes / 1024).toFixed(0)} KB`,
        ratio: ms / baseline,
        ratioMeaning: 'time',
        details: {
          medianMs: ms,
          minMs: Math.min(...samples),
          maxMs: Math.max(...samples),
          runs: samples.length,
          bytes,
          gzipBytes,
          mapBytes,
        },
      };
    });
    return {
      title,
      baseline: SDK_BUNDLED,
      explanation:
        `${ENTRY} bundled as KclConsumer bundles it, with the SDK bundled or external; median over ${settings.runs} ` +
        'fresh `node` processes of the time to load the bundle and build the handler, alone in a folder with ' +
        '`NODE_PATH` at a nested node_modules holding only the two SDK clients and `NODE_OPTIONS=--enable-source-maps`.',
      rows,
    };
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

if (require.main === module) runStandalone(run);
