/**
 * Handler overhead: the time to take one Lambda Kinesis batch from event to
 * response with no-op processing, side by side in one process:
 *
 *   1. a hand-written loop (the baseline): decode base64, call the no-op per
 *      record in order, build the response;
 *   2. Powertools BatchProcessor (Kinesis) with processInParallel: false;
 *   3. withRecordHandler and withKclProcessor, with an in-memory lease store (the
 *      engine's CPU cost alone) and against dynalite (end to end: a consistent
 *      read and a conditional write per batch over HTTP).
 *
 * Every timed call gets a batch with new, higher sequence numbers (renumbered
 * outside the timed part), so the engine delivers every record instead of
 * skipping replays; after each call the bench checks that all records reached
 * the no-op and the response reports no failures.
 *
 *   node -r ./bench/typescript-as-shipped.cjs bench/handler-overhead.bench.ts
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { Bench } from 'tinybench';
import { withKclProcessor, withRecordHandler } from '../lambda';
import { createMetricsSink } from '../lambda/observability/metrics-sink';
import { JsonLogger } from '../lambda/observability/json-logger';
import { createKclHandler, type KinesisBatchHandler } from '../lambda/lifecycle/kcl-engine';
import { streamNameFromArn } from '../lambda/records/stream-arn';
import { createStream, listShards, uniqueStreamName } from '../test/support/kinesis-stream';
import { type RuntimeHarness, startRuntimeHarness } from '../test/support/runtime-harness';
import {
  NoOpWork,
  QUIET,
  handWrittenLoop,
  materializingLoop,
  noOpProcessor,
  perRecordProcessor,
  powertoolsSequential,
  seededInMemoryStore,
  streamingLoop,
} from './batch-candidates';
import { BatchSeries, WORKLOADS, type Workload, kinesisBatch } from './kinesis-workload';
import { type ReportRow, type ReportSection, runStandalone } from './report';
import { median } from './median';

export const BASELINE = 'hand-written loop';
const MATERIALIZING = 'materializing loop: decode all records into user records, then the no-op on each';
const STREAMING = 'streaming loop: decode each record into a user record and hand it on (no array)';
const POWERTOOLS = 'Powertools BatchProcessor, processInParallel: false';
const OURS_IN_MEMORY = 'withRecordHandler, in-memory lease store';
const KCL_IN_MEMORY = 'withKclProcessor, in-memory lease store';

/**
 * The targets (issue #18): a per-record handler streams, so it is held to the
 * hand-written loop; a KCL processor gets an array, so it is held to the floor of
 * any API that builds one (the materializing loop); on Lambda's default batch the
 * fixed cost per batch dominates, so both are held to the loop there.
 */
interface HandlerTarget {
  readonly text: string;
  readonly baseline: string;
  readonly maxRatio: number;
}

function targetFor(workload: Workload, name: string): HandlerTarget | undefined {
  if (workload.records === 10_000) {
    if (name === OURS_IN_MEMORY) return { text: '≤ 1.5× the hand-written loop', baseline: BASELINE, maxRatio: 1.5 };
    if (name === KCL_IN_MEMORY) return { text: '≤ 1.25× the materializing loop', baseline: MATERIALIZING, maxRatio: 1.25 };
  } else if (name === OURS_IN_MEMORY || name === KCL_IN_MEMORY) {
    return { text: '≤ 1.5× the hand-written loop', baseline: BASELINE, maxRatio: 1.5 };
  }
  return undefined;
}

type BatchFunction = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

interface Candidate {
  readonly name: string;
  readonly handler: BatchFunction;
  readonly work: NoOpWork;
}

/** dynalite and kinesalite with a stream named like the bench event's ARN, so its shard is real. */
interface Backends {
  readonly harness: RuntimeHarness;
  readonly streamArn: string;
  readonly shardId: string;
}

/**
 * All candidates share one event (renumbered before every call): a 10,000-record
 * event is about 10 MB of heap, and keeping one per candidate alive would make
 * every garbage collection slower than in a Lambda container, which holds one.
 */
async function candidatesFor(backends: Backends, endToEnd = true): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  const plain = (name: string, build: (work: NoOpWork) => BatchFunction) => {
    const work = new NoOpWork();
    candidates.push({ name, handler: build(work), work });
  };
  plain(BASELINE, handWrittenLoop);
  plain(MATERIALIZING, materializingLoop);
  plain(STREAMING, streamingLoop);
  plain(POWERTOOLS, powertoolsSequential);

  for (const [name, loud] of [
    [OURS_IN_MEMORY, false],
    [KCL_IN_MEMORY, false],
    ['withKclProcessor, in-memory lease store, JSON log line + EMF on', true],
  ] as const) {
    const work = new NoOpWork();
    const store = await seededInMemoryStore(backends.shardId);
    const discard = () => undefined;
    const options = loud ? { logger: new JsonLogger({ write: discard }) } : QUIET;
    const metrics = loud ? createMetricsSink({ applicationName: 'kcl-bench' }, { write: discard }) : { publish: discard };
    const factory = name.startsWith('withRecordHandler')
      ? () => perRecordProcessor((record) => work.handle(record.data))
      : () => noOpProcessor(work);
    const handler: KinesisBatchHandler = createKclHandler(factory, options, { leaseStore: store, metrics });
    candidates.push({ name, handler, work });
  }
  if (!endToEnd) return candidates;

  for (const [name, build] of [
    ['withRecordHandler, dynalite', (work: NoOpWork, tableName: string) =>
      withRecordHandler((record) => work.handle(record.data), endToEndOptions(backends, tableName))],
    ['withKclProcessor, dynalite', (work: NoOpWork, tableName: string) =>
      withKclProcessor(() => noOpProcessor(work), endToEndOptions(backends, tableName))],
  ] as const) {
    const work = new NoOpWork();
    const handler = build(work, await backends.harness.newTable());
    candidates.push({ name, handler, work });
  }
  return candidates;
}

function endToEndOptions(backends: Backends, tableName: string) {
  return { ...QUIET, tableName, dynamoDb: backends.harness.admin, kinesis: backends.harness.kinesis };
}

export interface HandlerOverheadSettings {
  /** Rounds; each round times every candidate once, in turn. */
  readonly rounds: number;
  /** Time budget per candidate per round, ms (tinybench `time`). */
  readonly timeMs: number;
  /** Fewest timed calls per candidate per round (tinybench `iterations`). */
  readonly minIterations: number;
  /** Batches per candidate for the peak-heap figure (the median is reported). */
  readonly heapRuns: number;
}

export const DEFAULT_SETTINGS: HandlerOverheadSettings = { rounds: 21, timeMs: 100, minIterations: 5, heapRuns: 5 };

/**
 * The clock the calls are timed with. By default the process's CPU time (user +
 * system, every thread, garbage collection included): on a machine shared with
 * other work, wall time grows with whatever else runs, CPU time does not.
 * BENCH_CLOCK=wall times wall-clock time instead (the figure on an idle machine).
 */
export const CLOCK: 'cpu' | 'wall' = process.env.BENCH_CLOCK === 'wall' ? 'wall' : 'cpu';

const CPU_CLOCK = {
  name: 'process.cpuUsage',
  fn: (): number => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  },
  toMs: (value: number | bigint): number => Number(value),
  fromMs: (value: number): number => value,
};

export async function run(settings: HandlerOverheadSettings = DEFAULT_SETTINGS): Promise<ReportSection[]> {
  const harness = await startRuntimeHarness();
  try {
    const streamArn = await createStream(harness.kinesis, uniqueStreamName('kcl-bench'), 1);
    const [shard] = await listShards(harness.kinesis, streamNameFromArn(streamArn));
    const backends: Backends = { harness, streamArn, shardId: shard.ShardId ?? '' };
    const sections: ReportSection[] = [];
    // BENCH_WORKLOAD=… (a part of a workload's name) times that workload alone, for quick comparisons.
    const only = process.env.BENCH_WORKLOAD;
    const workloads = only ? WORKLOADS.filter((workload) => workload.name.includes(only)) : WORKLOADS;
    if (workloads.length === 0) throw new Error(`BENCH_WORKLOAD=${only} names none of: ${WORKLOADS.map((w) => w.name).join(', ')}`);
    for (const workload of workloads) sections.push(await measureWorkload(workload, backends, settings));
    if (!only) sections.push(await measurePeakHeap(WORKLOADS[0], backends, settings.heapRuns));
    return sections;
  } finally {
    await harness.close();
  }
}

let gcFunction: (() => void) | undefined;

/** Collects garbage between candidates so one does not pay for another's (best effort). */
function collectGarbage(): void {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = (vm.runInNewContext('typeof gc === "function" ? gc : undefined') as (() => void) | undefined) ?? (() => undefined);
  }
  gcFunction();
}

/** What one round measured for one candidate. */
interface RoundResult {
  readonly p50: number;
  readonly mean: number;
  readonly p99: number;
  readonly samples: number;
}


/**
 * Times every candidate in rounds, so that load from other processes on the
 * machine falls on all candidates alike; a ratio is the median over rounds of
 * (candidate's median / baseline's median in the same round).
 */
async function measureWorkload(workload: Workload, backends: Backends, settings: HandlerOverheadSettings): Promise<ReportSection> {
  const series = new BatchSeries(kinesisBatch(workload, backends.streamArn, backends.shardId));
  const candidates = await candidatesFor(backends);
  for (const candidate of candidates) {
    // The dynalite shards' first batch (lineage lookup, row created) is not steady state; untimed.
    if (candidate.name.endsWith('dynalite')) await candidate.handler(series.next());
  }
  const rounds = new Map<string, RoundResult[]>(candidates.map((candidate) => [candidate.name, []]));
  for (let round = 0; round < settings.rounds; round += 1) {
    // A candidate pays for some of what the one before it left (measured: about 0.05–0.1×
    // of the loop for whichever follows Powertools), so the order turns by one each round.
    const order = candidates.map((_, index) => candidates[(index + round) % candidates.length]);
    const bench = roundBench(workload, order, series, settings);
    await bench.run();
    for (const candidate of candidates) {
      const result = bench.getTask(candidate.name)?.result;
      if (result?.state !== 'completed') throw new Error(`${candidate.name} did not complete: ${result?.state}`);
      rounds.get(candidate.name)?.push({
        p50: result.latency.p50,
        mean: result.latency.mean,
        p99: result.latency.p99,
        samples: result.latency.samplesCount,
      });
    }
  }

  const title = `Handler overhead, ${workload.name}`;
  const resultsOf = (name: string) => rounds.get(name) ?? [];
  const baseline = resultsOf(BASELINE);
  const ratioTo = (name: string, reference: readonly RoundResult[]) =>
    median(resultsOf(name).map((result, round) => result.p50 / reference[round].p50));
  const rows: ReportRow[] = candidates.map((candidate) => {
    const results = resultsOf(candidate.name);
    const ms = median(results.map((result) => result.p50));
    const ratio = ratioTo(candidate.name, baseline);
    const toPowertools = ratioTo(candidate.name, resultsOf(POWERTOOLS));
    const toMaterializing = ratioTo(candidate.name, resultsOf(MATERIALIZING));
    const target = targetFor(workload, candidate.name);
    const toTargetBaseline = target && ratioTo(candidate.name, resultsOf(target.baseline));
    return {
      section: title,
      name: candidate.name,
      value: ms,
      unit: CLOCK === 'cpu' ? 'ms/batch (median CPU time)' : 'ms/batch (median wall time)',
      display: `${ms.toFixed(ms < 1 ? 3 : 2)} ms`,
      ratio,
      ratioMeaning: 'time',
      target: target && `${target.text} (${toTargetBaseline?.toFixed(2)}×)`,
      met: target && toTargetBaseline !== undefined ? toTargetBaseline <= target.maxRatio : undefined,
      details: {
        medianMs: ms,
        meanMs: median(results.map((result) => result.mean)),
        p99Ms: median(results.map((result) => result.p99)),
        ratioToPowertools: toPowertools,
        ratioToMaterializingLoop: toMaterializing,
        ratioToStreamingLoop: ratioTo(candidate.name, resultsOf(STREAMING)),
        rounds: results.length,
        samples: results.reduce((sum, result) => sum + result.samples, 0),
        roundMediansMs: results.map((result) => result.p50.toFixed(3)).join(' '),
        recordsPerSecond: (workload.records * 1000) / ms,
        nanosecondsPerRecord: (ms * 1e6) / workload.records,
      },
    };
  });
  return {
    title,
    baseline: BASELINE,
    explanation:
      `Median ${CLOCK === 'cpu' ? 'process CPU time' : 'wall time'} to handle one batch of ${workload.records} records of ${workload.payloadBytes} bytes ` +
      'with a no-op per record; the ratio is to the hand-written loop measured in the same round. ' +
      '"in-memory lease store" is the engine\'s CPU cost alone; "dynalite" adds one consistent GetItem and ' +
      'one conditional write per batch over HTTP to dynalite, which runs in the same process.',
    rows,
  };
}

const HEAP_CANDIDATES: readonly string[] = [BASELINE, MATERIALIZING, STREAMING, OURS_IN_MEMORY, KCL_IN_MEMORY];

/** Twice: ArrayBuffers freed by one collection are swept concurrently, and counted until the next. */
function fullCollection(): void {
  collectGarbage();
  collectGarbage();
}

/** What the heap holds: V8's heap in use plus the ArrayBuffers outside it (where Buffers keep their bytes). */
function heapBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Peak heap per batch: what a candidate keeps alive while it handles one batch,
 * above what the heap held before the call (the event itself included there). The
 * heap is measured after a full collection at a quarter, half, three quarters and
 * the last of the records, as the no-op receives them; the peak is the largest
 * sample. Garbage is not counted, only what is still reachable.
 */
async function measurePeakHeap(workload: Workload, backends: Backends, runs: number): Promise<ReportSection> {
  const series = new BatchSeries(kinesisBatch(workload, backends.streamArn, backends.shardId));
  const candidates = (await candidatesFor(backends, false)).filter((candidate) => HEAP_CANDIDATES.includes(candidate.name));
  const sampleAt = new Set([1, 2, 3, 4].map((quarter) => Math.round((workload.records * quarter) / 4)));
  const peaks = new Map<string, number[]>(candidates.map((candidate) => [candidate.name, []]));
  for (let run = 0; run < runs + 1; run += 1) {
    for (const candidate of candidates) {
      const work = candidate.work;
      const handle = work.handle;
      let peak = 0;
      Object.assign(work, {
        handle: (data: Uint8Array) => {
          handle(data);
          if (sampleAt.has(work.delivered)) {
            fullCollection();
            peak = Math.max(peak, heapBytes());
          }
        },
      });
      try {
        const event = series.next();
        work.delivered = 0;
        fullCollection();
        const before = heapBytes();
        const response = await candidate.handler(event);
        if (work.delivered !== workload.records || response.batchItemFailures.length !== 0) {
          throw new Error(`${candidate.name} delivered ${work.delivered} of ${workload.records} records while its heap was measured`);
        }
        // The first run warms up (code, pools, the lease store's row); not counted.
        if (run > 0) peaks.get(candidate.name)?.push(Math.max(0, peak - before));
      } finally {
        Object.assign(work, { handle });
      }
    }
  }
  const title = `Peak heap per batch, ${workload.name}`;
  const materializing = median(peaks.get(MATERIALIZING) ?? []);
  const rows: ReportRow[] = candidates.map((candidate) => {
    const bytes = median(peaks.get(candidate.name) ?? []);
    return {
      section: title,
      name: candidate.name,
      value: bytes / 1024,
      unit: 'KB (median)',
      display: `${formatKilobytes(bytes)}`,
      ratio: bytes / materializing,
      ratioMeaning: 'memory',
      details: {
        bytesPerRecord: bytes / workload.records,
        runs: peaks.get(candidate.name)?.length ?? 0,
        runsKB: (peaks.get(candidate.name) ?? []).map((value) => (value / 1024).toFixed(0)).join(' '),
      },
    };
  });
  return {
    title,
    baseline: MATERIALIZING,
    explanation:
      `Heap kept alive while one batch of ${workload.records} records of ${workload.payloadBytes} bytes is handled ` +
      '(V8 heap plus ArrayBuffers, after a full collection at each quarter of the records, above the heap before the ' +
      'call); the ratio is to the materializing loop.',
    rows,
  };
}

function formatKilobytes(bytes: number): string {
  const kilobytes = bytes / 1024;
  return kilobytes >= 1024 ? `${(kilobytes / 1024).toFixed(2)} MB` : `${kilobytes.toFixed(kilobytes < 10 ? 1 : 0)} KB`;
}

function roundBench(workload: Workload, candidates: readonly Candidate[], series: BatchSeries, settings: HandlerOverheadSettings): Bench {
  const bench = new Bench({
    time: settings.timeMs,
    iterations: settings.minIterations,
    warmupTime: Math.min(100, settings.timeMs),
    warmupIterations: 2,
    throws: true,
    setup: () => collectGarbage(),
    ...(CLOCK === 'cpu' ? { timestampProvider: CPU_CLOCK } : {}),
  });
  for (const candidate of candidates) {
    let event: KinesisStreamEvent = series.event;
    let response: KinesisStreamBatchResponse | undefined;
    bench.add(
      candidate.name,
      async () => {
        response = await candidate.handler(event);
      },
      {
        async: true,
        beforeEach() {
          event = series.next();
          candidate.work.delivered = 0;
          response = undefined;
        },
        afterEach() {
          // Measure what we say: every record delivered once, nothing reported failed.
          if (candidate.work.delivered !== workload.records || response?.batchItemFailures.length !== 0) {
            throw new Error(
              `${candidate.name} delivered ${candidate.work.delivered} of ${workload.records} records ` +
                `(batch ${series.batchNumber}), failures: ${JSON.stringify(response?.batchItemFailures)}`,
            );
          }
        },
      },
    );
  }
  return bench;
}

if (require.main === module) runStandalone(run);
