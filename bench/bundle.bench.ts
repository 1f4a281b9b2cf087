/**
 * The runtime bundle: its size, and the cold-start cost of loading it.
 *
 * Each entry is bundled with esbuild, minified, platform node, CommonJS, `@aws-sdk/*`
 * and `@smithy/*` external: our code alone (bench/function-bundle.bench.ts measures
 * the function KclConsumer deploys). Cold start is the time, inside a fresh
 * `node` process, to `require` the bundle and build the handler, measured many
 * times in turn for every entry (median). Baselines: a hello-world handler, and a
 * hello-world that constructs a DynamoDBClient, since loading the SDK is what a
 * function with a DynamoDB checkpoint pays anyway.
 *
 *   node -r ./bench/typescript-as-shipped.cjs bench/bundle.bench.ts
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { build } from 'esbuild';
import { type ReportRow, type ReportSection, runStandalone } from './report';
import { median } from './median';

const ROOT = path.resolve(__dirname, '..');

interface Entry {
  readonly name: string;
  /** A file of this repository, or (with `installed`) the text of a handler in a project that installed the packed package. */
  readonly source: string;
  /** Bundle `source` as a user's handler importing `kcl-lambda/lambda` from the installed tarball. */
  readonly installed?: boolean;
  /** JavaScript run after `require`, with the module as `m`, that yields the handler. */
  readonly buildHandler: string;
  readonly sizeTarget?: boolean;
}

const HELLO_WORLD = 'hello-world handler';
const HELLO_DYNAMODB = 'hello-world + new DynamoDBClient()';
const HELLO_BOTH_CLIENTS = 'hello-world + new DynamoDBClient() + new KinesisClient()';
const BASELINES = new Set([HELLO_WORLD, HELLO_DYNAMODB, HELLO_BOTH_CLIENTS]);

export const ENTRIES: readonly Entry[] = [
  { name: HELLO_WORLD, source: 'bench/fixtures/hello-world-handler.ts', buildHandler: 'm.handler' },
  { name: HELLO_DYNAMODB, source: 'bench/fixtures/hello-dynamodb-handler.ts', buildHandler: 'm.handler' },
  { name: HELLO_BOTH_CLIENTS, source: 'bench/fixtures/hello-dynamodb-kinesis-handler.ts', buildHandler: 'm.handler' },
  {
    name: 'lambda/index.ts (runtime) + withRecordHandler(fn)',
    source: 'lambda/index.ts',
    buildHandler: 'm.withRecordHandler(() => undefined)',
    sizeTarget: true,
  },
  { name: 'examples/handler.ts (withKclProcessor + example processor)', source: 'examples/handler.ts', buildHandler: 'm.handler' },
  {
    name: "a user's withRecordHandler(fn), kcl-lambda/lambda from the installed package",
    source:
      "import { withRecordHandler } from 'kcl-lambda/lambda';\n" +
      "export const handler = withRecordHandler(async (record) => { JSON.parse(record.data.toString('utf8')); });\n",
    installed: true,
    buildHandler: 'm.handler',
  },
];

/**
 * A project that installed the package as `npm pack` makes it (prepack builds dist/
 * from scratch): the tarball unpacked into node_modules/kcl-lambda. Bundlers then
 * resolve `kcl-lambda/lambda` through the package's exports, as in a user's app.
 */
function installPackedPackage(directory: string): string {
  const project = path.join(directory, 'project');
  const target = path.join(project, 'node_modules', 'kcl-lambda');
  fs.mkdirSync(target, { recursive: true });
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', directory], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { filename: string }[];
  execFileSync('tar', ['-xzf', path.join(directory, packed[0].filename), '-C', target, '--strip-components=1']);
  return project;
}

export interface BundleSettings {
  /** Fresh processes per entry. */
  readonly runs: number;
}

export const DEFAULT_SETTINGS: BundleSettings = { runs: 30 };

/** Bundles an entry as it would be deployed; returns the code. */
export async function bundle(source: string): Promise<string> {
  const result = await build({
    entryPoints: [path.isAbsolute(source) ? source : path.join(ROOT, source)],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['@aws-sdk/*', '@smithy/*'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** Milliseconds to require the bundle and build the handler, measured inside a fresh node process. */
function coldStartOnce(bundlePath: string, buildHandler: string): number {
  const probe =
    'const t0 = process.hrtime.bigint();' +
    `const m = require(${JSON.stringify(bundlePath)});` +
    `const h = ${buildHandler};` +
    'const t1 = process.hrtime.bigint();' +
    "if (typeof h !== 'function') throw new Error('no handler');" +
    'process.stdout.write(String(Number(t1 - t0) / 1e6));';
  const output = execFileSync(process.execPath, ['-e', probe], {
    // The bundles live in a temporary directory; the externals resolve from this project.
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return Number(output);
}


function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function run(settings: BundleSettings = DEFAULT_SETTINGS): Promise<ReportSection[]> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'kcl-bench-bundle-'));
  try {
    const project = ENTRIES.some((entry) => entry.installed) ? installPackedPackage(directory) : undefined;
    const bundles = await Promise.all(
      ENTRIES.map(async (entry, index) => {
        let source = entry.source;
        if (entry.installed) {
          source = path.join(project!, `user-handler-${index}.ts`);
          fs.writeFileSync(source, entry.source);
        }
        const code = await bundle(source);
        const file = path.join(directory, `entry-${index}.js`);
        fs.writeFileSync(file, code);
        return { entry, file, bytes: Buffer.byteLength(code), gzipBytes: zlib.gzipSync(code, { level: 9 }).length };
      }),
    );
    // In turn, so that background load falls on every entry alike.
    const times = new Map<string, number[]>(ENTRIES.map((entry) => [entry.name, []]));
    for (let run = 0; run < settings.runs; run += 1) {
      for (const { entry, file } of bundles) times.get(entry.name)?.push(coldStartOnce(file, entry.buildHandler));
    }

    const sizeTitle = 'Runtime bundle size';
    const sizeRows: ReportRow[] = bundles.map(({ entry, bytes, gzipBytes }) => ({
      section: sizeTitle,
      name: entry.name,
      value: bytes / 1024,
      unit: 'KB',
      display: `${(bytes / 1024).toFixed(1)} KB (${(gzipBytes / 1024).toFixed(1)} KB gzip)`,
      target: entry.sizeTarget ? '≤ 30 KB' : undefined,
      met: entry.sizeTarget ? bytes / 1024 <= 30 : undefined,
      details: { bytes, gzipBytes },
    }));

    const coldTitle = 'Cold start (require + build handler)';
    const medianOf = (name: string) => median(times.get(name) ?? []);
    const hello = medianOf(HELLO_WORLD);
    const helloDynamoDb = medianOf(HELLO_DYNAMODB);
    const coldRows: ReportRow[] = bundles.map(({ entry }) => {
      const samples = times.get(entry.name) ?? [];
      const ms = median(samples);
      const isOurs = !BASELINES.has(entry.name);
      return {
        section: coldTitle,
        name: entry.name,
        value: ms,
        unit: 'ms (median)',
        display: `${ms.toFixed(2)} ms` + (isOurs ? ` (${(ms / helloDynamoDb).toFixed(2)}× hello + DynamoDBClient)` : ''),
        ratio: ms / hello,
        ratioMeaning: 'time',
        target: isOurs ? '≤ 2× hello-world' : undefined,
        met: isOurs ? ms / hello <= 2 : undefined,
        details: {
          medianMs: ms,
          p90Ms: percentile(samples, 90),
          minMs: Math.min(...samples),
          runs: samples.length,
          ratioToHelloWorld: ms / hello,
          ratioToHelloDynamoDbClient: ms / helloDynamoDb,
          ratioToHelloBothClients: ms / medianOf(HELLO_BOTH_CLIENTS),
        },
      };
    });
    return [
      {
        title: sizeTitle,
        explanation:
          'esbuild bundle of the entry, minified, platform node, CommonJS, `@aws-sdk/*` and `@smithy/*` external ' +
          '(so the figure is our code alone; KclConsumer bundles the SDK too); 1 KB = 1024 bytes.',
        rows: sizeRows,
      },
      {
        title: coldTitle,
        baseline: HELLO_WORLD,
        explanation:
          `Median over ${settings.runs} fresh \`node\` processes of the time to require the bundle and build ` +
          'the handler (Node.js bootstrap not included); the ratio is to the hello-world handler bundled the same way.',
        rows: coldRows,
      },
    ];
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

if (require.main === module) runStandalone(run);
