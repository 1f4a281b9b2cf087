/**
 * DynamoDB (and Kinesis) requests per batch, counted on the client: middleware on
 * the clients the engine is given records every command it sends to dynalite and
 * kinesalite. Counts, not times: they do not depend on the machine.
 *
 *   node -r ./bench/typescript-as-shipped.cjs bench/dynamodb-requests.bench.ts
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { withKclProcessor, withRecordHandler } from '../lambda';
import type { KinesisBatchHandler } from '../lambda/lifecycle/kcl-engine';
import type { RecordProcessor } from '../lambda/record-processor';
import { type RuntimeHarness, startRuntimeHarness } from '../test/support/runtime-harness';
import { SILENT_LOGGER } from './batch-candidates';
import { BatchSeries, type Workload, kinesisBatch } from './kinesis-workload';
import { type ReportRow, type ReportSection, runStandalone } from './report';

const WORKLOAD: Workload = { name: '100 × 1 KB', records: 100, payloadBytes: 1024 };
const FAILING_INDEX = 50;

const READS = new Set(['GetItemCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand']);

export interface RequestCount {
  readonly reads: number;
  readonly writes: number;
  readonly other: number;
  readonly kinesis: number;
  /** The commands in the order sent, e.g. GetItem, UpdateItem. */
  readonly sequence: string;
}

interface Scenario {
  readonly name: string;
  readonly count: RequestCount;
  readonly response: KinesisStreamBatchResponse;
  /** Requirement for steady-state rows. */
  readonly steadyState?: boolean;
}

/** One shard's worth of setup: a fresh table and stream, a handler on the counted clients. */
class CountedShard {
  readonly kinesisRequests: string[] = [];
  private constructor(
    private readonly harness: RuntimeHarness,
    readonly series: BatchSeries,
  ) {}

  static async start(harness: RuntimeHarness, kinesisRequests: string[]): Promise<{ shard: CountedShard; tableName: string }> {
    const [stream, tableName] = await Promise.all([harness.newStream(1), harness.newTable()]);
    const series = new BatchSeries(kinesisBatch(WORKLOAD, stream.streamArn, stream.shardIds[0]));
    const shard = new CountedShard(harness, series);
    kinesisRequests.length = 0;
    return { shard, tableName };
  }

  /** Sends one event and counts the requests it caused. */
  async invoke(
    handler: KinesisBatchHandler,
    event: KinesisStreamEvent,
    kinesisRequests: string[],
  ): Promise<{ count: RequestCount; response: KinesisStreamBatchResponse }> {
    this.harness.requests.length = 0;
    kinesisRequests.length = 0;
    const response = await handler(event);
    const sent = [...this.harness.requests];
    return {
      response,
      count: {
        reads: sent.filter((name) => READS.has(name)).length,
        writes: sent.filter((name) => WRITES.has(name)).length,
        other: sent.filter((name) => !READS.has(name) && !WRITES.has(name)).length,
        kinesis: kinesisRequests.length,
        sequence: [...sent, ...kinesisRequests.map((name) => `Kinesis ${name}`)].map((name) => name.replace(/Command$/, '')).join(', '),
      },
    };
  }
}

/** The records of `event` from index `from` on: what Lambda re-delivers after a partial failure. */
function redeliveryFrom(event: KinesisStreamEvent, from: number): KinesisStreamEvent {
  return { Records: event.Records.slice(from).map((record) => ({ ...record, kinesis: { ...record.kinesis } })) };
}

export async function measureRequests(): Promise<Scenario[]> {
  const harness = await startRuntimeHarness();
  const kinesisRequests: string[] = [];
  harness.kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      kinesisRequests.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'benchRequestCount' },
  );
  const options = (tableName: string) => ({
    tableName,
    dynamoDb: harness.dynamoDb,
    kinesis: harness.kinesis,
    logger: SILENT_LOGGER,
    metrics: false as const,
  });
  const scenarios: Scenario[] = [];
  try {
    // withRecordHandler: first batch, steady state, a failure mid-batch and its retry.
    {
      const { shard, tableName } = await CountedShard.start(harness, kinesisRequests);
      let failOn: string | undefined;
      const handler = withRecordHandler((record) => {
        if (record.sequenceNumber === failOn) throw new Error('bench: this record fails');
      }, options(tableName));
      const first = await shard.invoke(handler, shard.series.next(), kinesisRequests);
      scenarios.push({ name: "withRecordHandler: a shard's first batch (no row yet)", ...first });
      const steady = await shard.invoke(handler, shard.series.next(), kinesisRequests);
      scenarios.push({ name: 'withRecordHandler: steady state', ...steady, steadyState: true });
      const failing = shard.series.next();
      failOn = failing.Records[FAILING_INDEX].kinesis.sequenceNumber;
      const failed = await shard.invoke(handler, failing, kinesisRequests);
      if (failed.response.batchItemFailures[0]?.itemIdentifier !== failOn) {
        throw new Error(`expected the failed record ${failOn} reported, got ${JSON.stringify(failed.response)}`);
      }
      scenarios.push({ name: `withRecordHandler: a batch whose record ${FAILING_INDEX + 1} of ${WORKLOAD.records} fails`, ...failed });
      failOn = undefined;
      const retried = await shard.invoke(handler, redeliveryFrom(failing, FAILING_INDEX), kinesisRequests);
      if (retried.response.batchItemFailures.length > 0) throw new Error(`the retry failed: ${JSON.stringify(retried.response)}`);
      scenarios.push({ name: 'withRecordHandler: the retry after that partial failure', ...retried });
      const full = await shard.invoke(handler, failing, kinesisRequests);
      scenarios.push({ name: 'withRecordHandler: a full replay of that batch (all already checkpointed)', ...full });
    }
    // withKclProcessor: auto mode, and a processor that checkpoints itself at the end.
    for (const [name, checkpointsItself] of [
      ['withKclProcessor (auto): steady state', false],
      ['withKclProcessor (auto), processor calls checkpoint() at the end: steady state', true],
    ] as const) {
      const { shard, tableName } = await CountedShard.start(harness, kinesisRequests);
      const processor = (): RecordProcessor => ({
        initialize() {},
        async processRecords({ checkpointer }) {
          if (checkpointsItself) await checkpointer.checkpoint();
        },
        shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
      });
      const handler = withKclProcessor(processor, options(tableName));
      await shard.invoke(handler, shard.series.next(), kinesisRequests);
      const steady = await shard.invoke(handler, shard.series.next(), kinesisRequests);
      scenarios.push({ name, ...steady, steadyState: true });
    }
  } finally {
    await harness.close();
  }
  return scenarios;
}

export async function run(): Promise<ReportSection> {
  const title = 'DynamoDB requests per batch';
  const rows: ReportRow[] = (await measureRequests()).map((scenario) => {
    const { count } = scenario;
    const failures = scenario.response.batchItemFailures.length;
    return {
      section: title,
      name: scenario.name,
      value: count.reads + count.writes + count.other,
      unit: 'requests',
      display:
        `${count.reads} read, ${count.writes} write` +
        (count.other ? `, ${count.other} other` : '') +
        (count.kinesis ? ` (+ ${count.kinesis} Kinesis)` : '') +
        (failures ? `; reports ${failures} item failure` : ''),
      target: scenario.steadyState ? '≤ 1 read, ≤ 1 write' : undefined,
      met: scenario.steadyState ? count.reads <= 1 && count.writes <= 1 && count.other === 0 : undefined,
      details: {
        reads: count.reads,
        writes: count.writes,
        otherDynamoDb: count.other,
        kinesis: count.kinesis,
        requests: count.sequence,
        batchItemFailures: failures,
      },
    };
  });
  return {
    title,
    explanation:
      `Requests the engine sent for one batch of ${WORKLOAD.records} records, counted by middleware on the ` +
      'DynamoDB and Kinesis clients it was given (against dynalite and kinesalite). A read is a consistent ' +
      'GetItem of the lease row; a write is a conditional PutItem (row creation) or UpdateItem (checkpoint).',
    rows,
  };
}

if (require.main === module) runStandalone(run);
