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
 *   npx tsx bench/handler-overhead.bench.ts
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
} from './batch-candidates';
import { BatchSeries, WORKLOADS, type Workload, kinesisBatch } from './kinesis-workload';
import { type ReportRow, type ReportSection, runStandalone } from './report';

export const BASELINE = 'hand-written loop';
const POWERTOOLS = 'Powertools BatchProcessor, processInParallel: false';
const OURS_IN_MEMORY = 'withRecordHandler, in-memory lease store';

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
async function candidatesFor(backends: Backends): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  const plain = (name: string, build: (work: NoOpWork) => BatchFunction) => {
    const work = new NoOpWork();
    candidates.push({ name, handler: build(work), work });
  };
  plain(BASELINE, handWrittenLoop);
  plain('materializing loop: decode all records into user records, then the no-op on each', materializingLoop);
  plain(POWERTOOLS, powertoolsSequential);

  for (const [name, loud] of [
    [OURS_IN_MEMORY, false],
    ['withKclProcessor, in-memory lease store', false],
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
}

export const DEFAULT_SETTINGS: HandlerOverheadSettings = { rounds: 7, timeMs: 400, minIterations: 5 };

export async function run(settings: HandlerOverheadSettings = DEFAULT_SETTINGS): Promise<ReportSection[]> {
  const harness = await startRuntimeHarness();
  try {
    const streamArn = await createStream(harness.kinesis, uniqueStreamName('kcl-bench'), 1);
    const [shard] = await listShards(harness.kinesis, streamNameFromArn(streamArn));
    const backends: Backends = { harness, streamArn, shardId: shard.ShardId ?? '' };
    const sections: ReportSection[] = [];
    for (const workload of WORKLOADS) sections.push(await measureWorkload(workload, backends, settings));
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
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
    const bench = roundBench(workload, candidates, series, settings);
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
    const isTarget = workload.records === 10_000 && candidate.name === OURS_IN_MEMORY;
    return {
      section: title,
      name: candidate.name,
      value: ms,
      unit: 'ms/batch (median)',
      display: `${ms.toFixed(ms < 1 ? 3 : 2)} ms`,
      ratio,
      ratioMeaning: 'time',
      target: isTarget ? '≤ 1.25× and faster than Powertools' : undefined,
      met: isTarget ? ratio <= 1.25 && toPowertools < 1 : undefined,
      details: {
        medianMs: ms,
        meanMs: median(results.map((result) => result.mean)),
        p99Ms: median(results.map((result) => result.p99)),
        ratioToPowertools: toPowertools,
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
      `Median wall time to handle one batch of ${workload.records} records of ${workload.payloadBytes} bytes ` +
      'with a no-op per record; the ratio is to the hand-written loop measured in the same round. ' +
      '"in-memory lease store" is the engine\'s CPU cost alone; "dynalite" adds one consistent GetItem and ' +
      'one conditional write per batch over HTTP to dynalite, which runs in the same process.',
    rows,
  };
}

function roundBench(workload: Workload, candidates: readonly Candidate[], series: BatchSeries, settings: HandlerOverheadSettings): Bench {
  const bench = new Bench({
    time: settings.timeMs,
    iterations: settings.minIterations,
    warmupTime: Math.min(100, settings.timeMs),
    warmupIterations: 2,
    throws: true,
    setup: () => collectGarbage(),
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
