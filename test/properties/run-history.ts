/**
 * Runs one generated history: a fresh table and stream, records put and shards
 * resharded step by step, and the emulated Lambda event source mapping
 * (local/event-source-mapping.ts) invoking the real handler against dynalite and
 * kinesalite, with the history's faults injected. Returns the observation log.
 *
 * The one place this goes beyond what the mapping itself does is a `duplicate`
 * invocation fault: the same batch is handed to a second container at the same
 * time (Lambda may invoke twice; the emulated mapping never does), and the
 * mapping sees the first container's answer.
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import { CheckpointError, type KinesisUserRecord, type RecordProcessor, withKclProcessor, withRecordHandler } from '../../lambda';
import type { KinesisBatchHandler as RuntimeHandler } from '../../lambda/lifecycle/kcl-engine';
import type { Checkpointer } from '../../lambda/record-processor';
import { EmulatedEventSourceMapping } from '../../local/mapping/event-source-mapping';
import { InMemoryOnFailureDestination } from '../../local/mapping/on-failure-destination';
import { aggregate } from '../lambda/records/kpl-vectors';
import { createStream, listShards, mergeShards, putRecords, splitShard, uniqueStreamName } from '../support/kinesis-stream';
import type { RuntimeHarness } from '../support/runtime-harness';
import { DynamoDbFaultPlan, type InvocationScope, invocationScope } from './fault-injection';
import { type History, type KinesisRecordPlan, type UserRecordPlan, userRecordIds } from './history';
import { ObservationLog } from './observation-log';

/** Long enough for the guard to fire well before Lambda's timeout, short enough to keep histories fast. */
const GUARD_FUNCTION_TIMEOUT_SECONDS = 2;
/**
 * The guard fires this long after an invocation starts: more than an ordinary batch
 * takes against the emulators (each request costs about 10 ms), so it fires at slow records.
 */
const GUARD_FIRES_AFTER_MS = 150;
/** A slow record takes this long on its first delivery: well past the guard. */
const SLOW_RECORD_MS = 300;

export interface HistoryEnvironment {
  readonly harness: RuntimeHarness;
  /** The DynamoDB client the runtime uses, with injectDynamoDbFaults installed. */
  readonly dynamoDb: DynamoDBClient;
  readonly kinesis: KinesisClient;
}

export interface HistoryResult {
  readonly log: ObservationLog;
  /** The mapping did not reach idle (or something outside the runtime failed). */
  readonly stuck?: string;
}

export async function runHistory(env: HistoryEnvironment, history: History): Promise<HistoryResult> {
  const log = new ObservationLog();
  log.leaseLostObservable = history.api === 'withKclProcessor';
  const tableName = await env.harness.newTable();
  const streamName = uniqueStreamName('history');
  await createStream(env.kinesis, streamName, history.initialShards);
  const faults = new DynamoDbFaultPlan(tableName, history.dynamoDbFaults, log);
  const plans = new Map<string, UserRecordPlan>();
  const background: Promise<unknown>[] = [];
  const consumer = new ProcessorModel(history, plans, log, background);

  const containers = new Map<number, RuntimeHandler>();
  let nextContainer = 2;
  const container = (slot: number): RuntimeHandler => {
    let handler = containers.get(slot);
    if (!handler) containers.set(slot, (handler = consumer.newContainer(tableName, env)));
    return handler;
  };
  /** Slot 0 is the warm container; a crash replaces its handler with a fresh one. */
  const slotIds = new Map<number, number>([
    [0, 0],
    [1, 1],
  ]);
  const invocationFaults = new Map(history.invocationFaults.map((fault) => [fault.invocation, fault.kind]));
  let invocations = 0;

  const invoke = async (slot: number, invocation: number, event: KinesisStreamEvent, context: Context, crash: boolean) => {
    const scope: InvocationScope = {
      invocation,
      container: slotIds.get(slot)!,
      faults,
      dead: false,
      crashAtFirstWrite: crash,
    };
    log.add({ kind: 'invocationStarted', invocation, container: scope.container, durable: log.durableCheckpoints() });
    const response = await invocationScope.run(scope, () => container(slot)(event, context));
    if (scope.dead) {
      log.trace.push(`invocation #${invocation}: container ${scope.container} died before its checkpoint write`);
      // The container is gone; the next invocation in this slot starts a new one.
      containers.delete(slot);
      slotIds.set(slot, nextContainer++);
      throw new Error('Runtime.ExitError: the container died before its checkpoint write');
    }
    return response;
  };

  const mapping = new EmulatedEventSourceMapping({
    kinesis: env.kinesis,
    streamName: streamName,
    settings: {
      batchSize: history.mapping.batchSize,
      maximumRetryAttempts: history.mapping.maximumRetryAttempts,
      bisectBatchOnFunctionError: history.mapping.bisectBatchOnFunctionError,
      reportBatchItemFailures: true,
      functionTimeoutSeconds: history.timeoutGuard ? GUARD_FUNCTION_TIMEOUT_SECONDS : 30,
    },
    onFailure: new InMemoryOnFailureDestination(),
    pollIntervalMs: 1,
    // runUntilIdle lists shards itself when it starts and whenever a shard finishes.
    shardDiscoveryIntervalMs: 60_000,
    concurrentShards: history.mapping.concurrentShards,
    observer: {
      batchDiscarded: (record) =>
        log.add({
          kind: 'discarded',
          shardId: record.KinesisBatchInfo.shardId,
          startSequenceNumber: record.KinesisBatchInfo.startSequenceNumber,
          endSequenceNumber: record.KinesisBatchInfo.endSequenceNumber,
        }),
    },
    handler: async (event, context) => {
      const invocation = invocations++;
      const fault = invocationFaults.get(invocation);
      if (fault === 'duplicate') {
        const [first, second] = await Promise.allSettled([
          invoke(0, invocation, event, context, false),
          invoke(1, invocation, event, context, false),
        ]);
        log.trace.push(`invocation #${invocation}: duplicated on two containers (${settledText(first)} / ${settledText(second)})`);
        if (first.status === 'rejected') throw first.reason;
        return first.value;
      }
      if (fault === 'otherContainer') log.trace.push(`invocation #${invocation}: on the second warm container`);
      return invoke(fault === 'otherContainer' ? 1 : 0, invocation, event, context, fault === 'crash');
    },
  });

  const ids = userRecordIds(history);
  let stuck: string | undefined;
  try {
    for (const step of history.steps) {
      const open = await openShards(env.kinesis, streamName);
      if (step.kind === 'produce') {
        await produce(env.kinesis, streamName, open[step.shard % open.length], step.records, ids, plans, log);
      } else if (step.kind === 'split') {
        const parent = open[step.shard % open.length].ShardId!;
        const children = await splitShard(env.kinesis, streamName, parent);
        log.trace.push(`split ${parent} into ${children.join(', ')}`);
      } else {
        const pairs = adjacentPairs(open);
        if (pairs.length === 0) {
          log.trace.push('merge skipped: no adjacent open shards');
        } else {
          const [lower, upper] = pairs[step.pair % pairs.length];
          const child = await mergeShards(env.kinesis, streamName, lower, upper);
          log.trace.push(`merged ${lower} and ${upper} into ${child}`);
        }
      }
      if (step.drain) await runUntilSettled(mapping);
    }
    await runUntilSettled(mapping);
  } catch (error) {
    stuck = error instanceof Error ? error.message : String(error);
  } finally {
    await mapping.stop();
    // Processing the timeout guard abandoned may still be sleeping; let it finish.
    await Promise.allSettled(background);
  }
  log.shards = (await listShards(env.kinesis, streamName)).map((shard) => ({
    shardId: shard.ShardId!,
    parentShardIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => !!id),
    closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
  }));
  log.trace.push(`DynamoDB requests: ${faults.requestCount}; injected: ${faults.injected.join(', ') || 'none'}`);
  log.trace.push(`mapping: ${JSON.stringify(mapping.stats())}`);
  // Everything the checks need is in the log: free the emulators' account limits (1,000
  // shards) and memory for the next of thousands of histories.
  await env.kinesis.send(new DeleteStreamCommand({ StreamName: streamName })).catch(() => undefined);
  await env.harness.admin.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
  return { log, stuck };
}

/**
 * runUntilIdle, repeated while a closed shard is not yet read to its end. The mapping
 * counts a closed shard whose last read was empty as idle, but kinesalite ends a
 * shard closed after the reader's iterator was made only on the next GetRecords.
 */
async function runUntilSettled(mapping: EmulatedEventSourceMapping): Promise<void> {
  for (let round = 0; round < 50; round++) {
    await mapping.runUntilIdle({ timeoutMs: 20_000 });
    if (mapping.shardStatuses().every((status) => !status.closed || status.phase === 'finished')) return;
  }
  const unfinished = mapping.shardStatuses().filter((status) => status.closed && status.phase !== 'finished');
  throw new Error(`closed shards never finished: ${unfinished.map((status) => `${status.shardId} ${status.phase}`).join(', ')}`);
}

/**
 * The record processor of a history, and the per-record handler: both log what
 * they are given and what they finish, and fail or dawdle where the plan says.
 */
class ProcessorModel {
  private readonly throwsLeft = new Map<string, number>();
  private readonly slowDone = new Set<string>();

  constructor(
    private readonly history: History,
    private readonly plans: ReadonlyMap<string, UserRecordPlan>,
    private readonly log: ObservationLog,
    private readonly background: Promise<unknown>[],
  ) {}

  newContainer(tableName: string, env: HistoryEnvironment): RuntimeHandler {
    const options = {
      tableName,
      dynamoDb: env.dynamoDb,
      kinesis: env.kinesis,
      logger: quietLogger,
      metrics: false as const,
      timeoutGuardMs: this.history.timeoutGuard ? GUARD_FUNCTION_TIMEOUT_SECONDS * 1000 - GUARD_FIRES_AFTER_MS : undefined,
    };
    if (this.history.api === 'withRecordHandler') {
      return withRecordHandler((record) => this.handleOne(record, true), options);
    }
    return withKclProcessor((shardId) => this.newProcessor(shardId), { ...options, checkpointing: this.history.checkpointing });
  }

  /** Handles one user record as the plan says: maybe slow, maybe throwing. */
  private async handleOne(record: KinesisUserRecord, logDelivery: boolean): Promise<void> {
    const id = Buffer.from(record.data).toString('utf8');
    if (logDelivery) this.delivered(record, id);
    // A container that has died processes nothing more.
    if (invocationScope.getStore()?.dead) throw new Error('the container has died');
    const plan = this.plans.get(id);
    if (this.history.timeoutGuard && plan?.slow && !this.slowDone.has(id)) {
      this.slowDone.add(id);
      await sleep(SLOW_RECORD_MS);
    }
    const left = this.throwsLeft.get(id) ?? plan?.throws ?? 0;
    if (left > 0) {
      this.throwsLeft.set(id, left - 1);
      this.log.add({ kind: 'processorThrew', shardId: record.shardId, id });
      throw new Error(`injected: the processor fails at ${id} (${left - 1} more time(s))`);
    }
    this.log.add({ kind: 'processed', shardId: record.shardId, position: positionOf(record), id });
  }

  private delivered(record: KinesisUserRecord, id: string): void {
    const scope = invocationScope.getStore();
    this.log.add({
      kind: 'delivered',
      invocation: scope?.invocation ?? -1,
      container: scope?.container ?? -1,
      shardId: record.shardId, position: positionOf(record), id });
  }

  private newProcessor(shardId: string): RecordProcessor {
    let stopRequested = false;
    let lastDone: KinesisUserRecord | undefined;
    const every = this.history.checkpointEvery;
    const manual = this.history.checkpointing === 'manual';
    return {
      initialize: () => undefined,
      processRecords: ({ records, checkpointer }) => {
        stopRequested = false;
        for (const record of records) this.delivered(record, Buffer.from(record.data).toString('utf8'));
        const work = (async () => {
          for (const [index, record] of records.entries()) {
            if (stopRequested) return;
            await this.handleOne(record, false);
            lastDone = record;
            if (every > 0 && (index + 1) % every === 0) await checkpointer.checkpoint(record);
          }
          if (manual) await checkpointer.checkpoint();
        })();
        this.background.push(work.catch(() => undefined));
        return work;
      },
      shardEnded: async ({ checkpointer }) => {
        const scope = invocationScope.getStore();
        this.log.add({ kind: 'shardEnded', invocation: scope?.invocation ?? -1, container: scope?.container ?? -1, shardId });
        await checkpointer.checkpoint();
      },
      leaseLost: () => {
        this.log.add({ kind: 'leaseLost', shardId });
      },
      shutdownRequested: async ({ checkpointer }) => {
        // KCL style: stop, and checkpoint what is finished; processRecords may still be running.
        stopRequested = true;
        if (this.history.shutdownCheckpoint === 'noArguments') await checkpointQuietly(checkpointer);
        else if (lastDone) await checkpointQuietly(checkpointer, lastDone);
      },
    };
  }
}

async function checkpointQuietly(checkpointer: Checkpointer, record?: KinesisUserRecord): Promise<void> {
  try {
    await (record ? checkpointer.checkpoint(record) : checkpointer.checkpoint());
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
  }
}

async function produce(
  kinesis: KinesisClient,
  streamName: string,
  shard: Shard,
  records: readonly KinesisRecordPlan[],
  ids: ReadonlyMap<KinesisRecordPlan, string[]>,
  plans: Map<string, UserRecordPlan>,
  log: ObservationLog,
): Promise<void> {
  const puts = records.map((record) => {
    const userIds = ids.get(record)!;
    record.users.forEach((user, index) => plans.set(userIds[index], user));
    // The shard's starting hash key routes every record into it.
    const explicitHashKey = shard.HashKeyRange!.StartingHashKey!;
    if (!record.aggregated) return { data: userIds[0], partitionKey: userIds[0], explicitHashKey };
    const data = aggregate(userIds.map((id) => ({ partitionKey: id, data: Buffer.from(id) })));
    return { data, partitionKey: userIds[0], explicitHashKey };
  });
  const results = await putRecords(kinesis, streamName, puts);
  const shardId = shard.ShardId!;
  const stray = results.find((result) => result.shardId !== shardId);
  if (stray) throw new Error(`a record meant for ${shardId} landed in ${stray.shardId}`);
  results.forEach((result, index) => {
    const userIds = ids.get(records[index])!;
    userIds.forEach((id, sub) =>
      log.produced.push({
        id,
        shardId: result.shardId,
        position: { sequenceNumber: result.sequenceNumber, subSequenceNumber: records[index].aggregated ? sub : 0 },
      }),
    );
  });
  log.trace.push(`put ${records.map((record) => ids.get(record)!.join('+')).join(', ')} into ${shardId}`);
}

async function openShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  return (await listShards(kinesis, streamName))
    .filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .sort((a, b) => a.ShardId!.localeCompare(b.ShardId!));
}

/** Open shards whose hash ranges touch, lower range first. */
function adjacentPairs(open: readonly Shard[]): [string, string][] {
  const byRange = [...open].sort((a, b) => compareBig(a.HashKeyRange!.StartingHashKey!, b.HashKeyRange!.StartingHashKey!));
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < byRange.length; i++) {
    const end = BigInt(byRange[i].HashKeyRange!.EndingHashKey!);
    if (end + 1n === BigInt(byRange[i + 1].HashKeyRange!.StartingHashKey!)) pairs.push([byRange[i].ShardId!, byRange[i + 1].ShardId!]);
  }
  return pairs;
}

function compareBig(a: string, b: string): number {
  const difference = BigInt(a) - BigInt(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

function positionOf(record: KinesisUserRecord) {
  return { sequenceNumber: record.sequenceNumber, subSequenceNumber: record.subSequenceNumber };
}

function settledText(result: PromiseSettledResult<unknown>): string {
  if (result.status === 'rejected') return `threw ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`;
  return `returned ${JSON.stringify(result.value)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const quietLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
