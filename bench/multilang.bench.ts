/**
 * MultiLang processors: what a child process costs.
 *
 *   1. Start: spawn the child and have its answer to `initialize` (what the first batch
 *      of a shard in a new container pays): python3, python3 -S (no site import), and a
 *      static Go binary, each a processor of the test fixtures.
 *   2. Round trip: one batch through the engine (in-memory lease store, so only the
 *      engine and the pipe are timed) to a warm child that answers at once, against the
 *      same no-op processor in TypeScript (withKclProcessor).
 *
 * Candidates take turns within each round, so load from other processes falls on all
 * alike; figures are medians over all timed calls. Processors and handlers are built by
 * withMultiLangProcessor's own multiLangSettings / multiLangHandler; the processors are
 * the test fixtures' (test/lambda/multilang/fixtures), run by path.
 *
 *   node -r ./bench/typescript-as-shipped.cjs bench/multilang.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKclHandler, type KinesisBatchHandler } from '../lambda/lifecycle/kcl-engine';
import { MultiLangRecordProcessor } from '../lambda/multilang/multilang-record-processor';
import { type MultiLangProcessorOptions, multiLangHandler, multiLangSettings } from '../lambda/with-multilang-processor';
import { buildGoProcessor } from '../examples/multilang/go-processor-build';
import { NoOpWork, QUIET, noOpProcessor, seededInMemoryStore } from './batch-candidates';
import { BENCH_SHARD_ID, BatchSeries, WORKLOADS, type Workload, kinesisBatch } from './kinesis-workload';
import { type ReportRow, type ReportSection, runStandalone } from './report';
import { median } from './median';

const FIXTURES = join(__dirname, '..', 'test', 'lambda', 'multilang', 'fixtures');
const PYTHON_PROCESSOR = join(FIXTURES, 'strict_kcl_processor.py');
const GO_PROCESSOR = join(FIXTURES, 'go-processor', 'main.go');

export interface MultiLangBenchSettings {
  readonly startRuns: number;
  /** Timed batches per candidate per workload. */
  readonly batches: Readonly<Record<string, number>>;
}

export const DEFAULT_SETTINGS: MultiLangBenchSettings = { startRuns: 20, batches: { '10,000 × 400 B': 8, '100 × 1 KB': 60 } };

interface Command {
  readonly name: string;
  readonly options: MultiLangProcessorOptions;
}

/** As withMultiLangProcessor builds them; the fixtures keep no journal and their output is dropped. */
const settingsFor = (command: Command) =>
  multiLangSettings({ ...command.options, env: { KCL_FIXTURE_JOURNAL: undefined }, onOutput: () => undefined }, QUIET);


/** One row per candidate (in the samples' order): its median, relative to the first's. */
function medianRows(
  samples: ReadonlyMap<string, readonly number[]>,
  section: string,
  unit: string,
  details: (values: readonly number[]) => Record<string, number>,
): ReportRow[] {
  const entries = [...samples];
  const reference = median(entries[0][1]);
  return entries.map(([name, values]): ReportRow => {
    const ms = median(values);
    return { section, name, value: ms, unit, ratio: ms / reference, ratioMeaning: 'time', details: details(values) };
  });
}

/** Spawn → initialize answered, then stdin closed and the exit awaited (outside the timing). */
async function measureStarts(commands: readonly Command[], runs: number): Promise<ReportSection> {
  const samples = new Map<string, number[]>(commands.map((command) => [command.name, []]));
  for (let round = 0; round < runs + 2; round += 1) {
    for (const command of commands) {
      const processor = new MultiLangRecordProcessor(BENCH_SHARD_ID, settingsFor(command));
      const started = process.hrtime.bigint();
      await processor.initialize({ shardId: BENCH_SHARD_ID, extendedSequenceNumber: { sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 } });
      const millis = Number(process.hrtime.bigint() - started) / 1e6;
      if (processor.pid === undefined) throw new Error(`${command.name} did not answer initialize`);
      await processor.leaseLost();
      if (round >= 2) samples.get(command.name)!.push(millis); // two warm-up rounds fill the page cache
    }
  }
  return {
    title: 'MultiLang child start (spawn → initialize answered)',
    baseline: commands[0].name,
    explanation:
      'What the first batch of a shard pays once per warm container: spawning the processor and its answer to initialize ' +
      '(the Python fixture also sends one checkpoint request there and reads the reply).',
    rows: medianRows(samples, 'MultiLang child start', 'ms (median)', (values) => ({
      runs: values.length,
      minMs: Math.min(...values),
      maxMs: Math.max(...values),
    })),
  };
}

interface Candidate {
  readonly name: string;
  readonly handler: KinesisBatchHandler;
  /** The handler's processors with a live child, shut down after the timing. */
  readonly live: ReadonlySet<MultiLangRecordProcessor>;
}

async function measureRoundTrips(workload: Workload, commands: readonly Command[], batches: number): Promise<ReportSection> {
  const work = new NoOpWork();
  const overrides = async () => ({ leaseStore: await seededInMemoryStore(BENCH_SHARD_ID), metrics: { publish: () => undefined } });
  const candidates: Candidate[] = [
    { name: 'withKclProcessor, TypeScript no-op processor', handler: createKclHandler(() => noOpProcessor(work), QUIET, await overrides()), live: new Set() },
  ];
  for (const command of commands) {
    const settings = settingsFor(command);
    candidates.push({ name: `withMultiLangProcessor, ${command.name}`, handler: multiLangHandler(settings, QUIET, await overrides()), live: settings.live });
  }
  const series = new BatchSeries(kinesisBatch(workload));
  const samples = new Map<string, number[]>(candidates.map((candidate) => [candidate.name, []]));
  for (let round = 0; round < batches + 2; round += 1) {
    for (const candidate of candidates) {
      const event = series.next();
      const started = process.hrtime.bigint();
      const response = await candidate.handler(event);
      const millis = Number(process.hrtime.bigint() - started) / 1e6;
      if (response.batchItemFailures.length > 0) throw new Error(`${candidate.name} failed a batch`);
      if (round >= 2) samples.get(candidate.name)!.push(millis); // the first batch starts the child
    }
  }
  for (const candidate of candidates) for (const processor of [...candidate.live]) await processor.leaseLost();
  return {
    title: `MultiLang batch round trip, ${workload.name}`,
    baseline: candidates[0].name,
    explanation:
      'One batch through the engine (in-memory lease store) to a warm child: the records as JSON over its stdin, ' +
      'its status back; against the same no-op processor in TypeScript.',
    rows: medianRows(samples, `MultiLang round trip ${workload.name}`, 'ms/batch (median)', (values) => ({ batches: values.length })),
  };
}

export async function run(settings: MultiLangBenchSettings = DEFAULT_SETTINGS): Promise<ReportSection[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kcl-multilang-bench-'));
  try {
    const go = buildGoProcessor({ source: GO_PROCESSOR, output: join(dir, 'kcl-go-processor'), cacheDir: dir });
    const commands: Command[] = [
      { name: 'python3', options: { command: ['python3', PYTHON_PROCESSOR] } },
      { name: 'python3 -S', options: { command: ['python3', '-S', PYTHON_PROCESSOR] } },
      { name: 'static Go binary', options: { command: [go], dialect: 'kcl1' } },
    ];
    const sections = [await measureStarts(commands, settings.startRuns)];
    for (const workload of WORKLOADS) {
      sections.push(await measureRoundTrips(workload, commands.slice(1), settings.batches[workload.name] ?? 10));
    }
    return sections;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) runStandalone(() => run());
