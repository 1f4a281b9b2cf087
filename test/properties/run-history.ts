/**
 * Runs one generated history: a fresh table and stream, records put and shards
 * resharded step by step, and the emulated Lambda event source mapping
 * (local/mapping/event-source-mapping.ts) invoking the real handler against dynalite
 * and kinesalite, with the history's faults injected. Returns the observation log.
 *
 * Containers are modelled as AWS runs them (./container.ts): frozen between
 * invocations, killed by Lambda's timeout or a crash. What goes beyond the mapping
 * itself is done here, around its handler: a batch invoked on two containers at once
 * (Lambda acting on either answer), an acknowledged batch invoked again later, a
 * container reclaimed while frozen, and time jumping forward.
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { CheckpointError, type KinesisUserRecord, type RecordProcessor, withKclProcessor, withRecordHandler } from '../../lambda';
import { formatExtended } from '../../lambda/records/sequence-number';
import { EmulatedEventSourceMapping } from '../../local/mapping/event-source-mapping';
import { createLambdaContext } from '../../local/mapping/lambda-context';
import { InMemoryOnFailureDestination } from '../../local/mapping/on-failure-destination';
import type { Checkpointer } from '../../lambda/record-processor';
import { aggregate } from '../lambda/records/kpl-vectors';
import { createStream, listShards, mergeShards, putRecords, splitShard, uniqueStreamName } from '../support/kinesis-stream';
import type { RuntimeHarness } from '../support/runtime-harness';
import type { KinesisBatchHandler as RuntimeHandler } from '../../lambda/lifecycle/kcl-engine';
import { Container } from './container';
import { DynamoDbFaultPlan, type InvocationScope, invocationScope } from './fault-injection';
import { type History, type InvocationFaultKind, type KinesisRecordPlan, type UserRecordPlan, startStep, userRecordIds } from './history';
import { ObservationLog } from './observation-log';
import { STREAM_RETENTION_MS, StreamClock, useStreamClock } from './stream-clock';

/** Long enough for the guard to fire well before Lambda's timeout, short enough to keep histories fast. */
const GUARD_FUNCTION_TIMEOUT_SECONDS = 1;
/**
 * The guard fires this long after an invocation starts: more than an ordinary batch
 * takes against the emulators (each request costs about 10 ms), so it fires at slow records.
 */
const GUARD_FIRES_AFTER_MS = 150;
/** A slow record takes this long on its first delivery: well past the guard. */
const SLOW_RECORD_MS = 300;
/**
 * Every other slow record of a guard history takes this long: past the engine's last
 * call (a quarter of the guard's margin before the deadline), so the stopped
 * processRecords is still running when the invocation returns, but within Lambda's timeout.
 */
const SLOWER_THAN_LAST_CALL_MS = 900;
/** `lambdaTimeout` histories: the function's timeout, and how long a slow record takes there. */
const SHORT_FUNCTION_TIMEOUT_SECONDS = 1;
const SLOW_PAST_LAMBDA_TIMEOUT_MS = 1_300;
/** A big record's data: about 1 MB, so that five pass the 6 MB event limit (base64 adds a third). */
const BIG_RECORD_BYTES = 1_000_000;
/** A record-age jump goes this far past the age: beyond Lambda's longest function timeout. */
const RECORD_AGE_JUMP_BEYOND_S = 16 * 60;
/** An event this large (three big records, half the 6 MB limit and more) is near Lambda's limit. */
const NEAR_LIMIT_EVENT_BYTES = 3 * 1024 * 1024;

export interface HistoryEnvironment {
  readonly harness: RuntimeHarness;
  /** The DynamoDB client the runtime uses, with injectDynamoDbFaults installed. */
  readonly dynamoDb: DynamoDBClient;
  /** With injectStreamClock installed. */
  readonly kinesis: KinesisClient;
}

export interface HistoryResult {
  readonly log: ObservationLog;
  /** The mapping did not reach idle (or something outside the runtime failed). */
  readonly stuck?: string;
}

/** The log of the history running now, for a watchdog that reports a history that hangs. */
export let runningLog: ObservationLog | undefined;

export async function runHistory(env: HistoryEnvironment, history: History): Promise<HistoryResult> {
  const log = new ObservationLog();
  runningLog = log;
  log.leaseLostObservable = history.api === 'withKclProcessor';
  const tableName = await env.harness.newTable();
  const streamName = uniqueStreamName('history');
  await createStream(env.kinesis, streamName, history.initialShards);
  const clock = new StreamClock();
  useStreamClock(clock);
  const faults = new DynamoDbFaultPlan(tableName, history.dynamoDbFaults, log);
  const plans = new Map<string, UserRecordPlan>();
  const settings = history.mapping;
  // LATEST's rule for a parent it never saw a batch of relies on parents being delivered first.
  const childrenWaitForParents = settings.childrenWaitForParents || settings.startingPosition === 'LATEST';
  const functionTimeoutSeconds = history.timeoutGuard
    ? GUARD_FUNCTION_TIMEOUT_SECONDS
    : history.lambdaTimeout
      ? SHORT_FUNCTION_TIMEOUT_SECONDS
      : 30;
  let startingPositionTimestamp: Date | undefined;
  const consumer = new ProcessorModel(history, plans, log);

  /** Slot 0 is the warm container, slot 1 a second one; a dead one is replaced on next use. */
  const slots: Container[] = [];
  let nextContainerId = 0;
  const containerIn = (slot: number): Container => {
    let container = slots[slot];
    if (!container || container.killed) {
      const handler = consumer.newContainer(tableName, env, functionTimeoutSeconds, startingPositionTimestamp);
      container = new Container(nextContainerId++, handler, () => log.add({ kind: 'fault', name: 'frozenWorkResumed' }));
      slots[slot] = container;
    }
    return container;
  };
  /** Containers killed in this history (they may never hear a lost write's answer). */
  const killed = log.killedContainers;
  /** Per Lambda request id, the containers running it (a duplicate runs on two). */
  const runningByRequest = new Map<string, Set<Container>>();
  const invocationFaults = new Map(history.invocationFaults.map((fault) => [fault.invocation, fault.kind]));
  /** Per shard, events whose invocation returned success: what a late duplicate re-sends. */
  const acknowledgedEvents = new Map<string, KinesisStreamEvent[]>();
  let invocations = 0;

  const invoke = async (
    slot: number,
    invocation: number,
    event: KinesisStreamEvent,
    context: Context,
    killAtFirstWrite?: InvocationScope['killAtFirstWrite'],
  ): Promise<unknown> => {
    const container = containerIn(slot);
    const scope: InvocationScope = { invocation, container: container, faults, killAtFirstWrite };
    log.add({ kind: 'invocationStarted', invocation, container: container.id, durable: log.durableCheckpoints() });
    const running = runningByRequest.get(context.awsRequestId) ?? new Set<Container>();
    runningByRequest.set(context.awsRequestId, running.add(container));
    try {
      return await container.invoke(invocation, () => invocationScope.run(scope, async () => container.handler(event, context)));
    } catch (error) {
      if (container.killed) {
        log.trace.push(`invocation #${invocation}: container ${container.id} was killed`);
        if (killAtFirstWrite) log.add({ kind: 'fault', name: killAtFirstWrite === 'afterSend' ? 'killedWithWriteInFlight' : 'killedBeforeWrite' });
        killed.add(container.id);
      }
      throw error;
    } finally {
      running.delete(container);
      if (running.size === 0) runningByRequest.delete(context.awsRequestId);
    }
  };

  /** Time jumps: past the record age when one is set, else past the stream's retention. */
  const jump = (): void => {
    const maxAge = settings.maximumRecordAgeInSeconds;
    if (maxAge > 0) {
      // Past the age, and past the runtime's allowance for a batch still running (15 min).
      clock.advance((maxAge + RECORD_AGE_JUMP_BEYOND_S) * 1000);
      log.add({ kind: 'fault', name: 'recordAgeJump' });
      log.trace.push(`time jumps ${maxAge + RECORD_AGE_JUMP_BEYOND_S} s`);
      return;
    }
    clock.advance(STREAM_RETENTION_MS + 60_000);
    log.add({ kind: 'fault', name: 'retentionJump' });
    log.trace.push('time jumps past the stream retention');
    const processed = new Set(log.of('processed').map((entry) => `${entry.shardId}/${formatExtended(entry.position)}`));
    for (const record of log.produced) {
      if (!processed.has(`${record.shardId}/${formatExtended(record.position)}`)) {
        log.add({ kind: 'expired', shardId: record.shardId, position: record.position, id: record.id });
      }
    }
  };

  let mapping: EmulatedEventSourceMapping | undefined;
  const startMapping = async (): Promise<EmulatedEventSourceMapping> => {
    if (mapping) return mapping;
    // Emulated time: stream-clock.ts makes AT_TIMESTAMP iterators in it.
    if (settings.startingPosition === 'AT_TIMESTAMP') startingPositionTimestamp = new Date(clock.now());
    mapping = new EmulatedEventSourceMapping({
      kinesis: env.kinesis,
      streamName,
      clock,
      settings: {
        batchSize: settings.batchSize,
        maximumRetryAttempts: settings.maximumRetryAttempts,
        maximumRecordAgeInSeconds: settings.maximumRecordAgeInSeconds,
        maximumBatchingWindowInSeconds: settings.maximumBatchingWindowInSeconds,
        bisectBatchOnFunctionError: settings.bisectBatchOnFunctionError,
        startingPosition: settings.startingPosition,
        startingPositionTimestamp,
        reportBatchItemFailures: true,
        functionTimeoutSeconds,
      },
      onFailure: new InMemoryOnFailureDestination(),
      pollIntervalMs: 1,
      // runUntilIdle lists shards itself when it starts and whenever a shard finishes.
      shardDiscoveryIntervalMs: 60_000,
      concurrentShards: settings.concurrentShards,
      childrenWaitForParents,
      // Lambda resets a timed-out environment; here the observer kills its container.
      waitForTimedOutHandlers: false,
      streamRetentionMs: STREAM_RETENTION_MS,
      observer: {
        batchDiscarded: (record) => {
          const info = record.KinesisBatchInfo;
          log.add({
            kind: 'discarded',
            shardId: info.shardId,
            startSequenceNumber: info.startSequenceNumber,
            endSequenceNumber: info.endSequenceNumber,
            condition: record.requestContext.condition,
          });
          if (record.requestContext.condition === 'RecordAgeExceeded') {
            log.add({ kind: 'fault', name: 'recordAgeExceeded' });
            const closed = mapping?.shardStatuses().find((status) => status.shardId === info.shardId)?.closed;
            if (closed) log.add({ kind: 'fault', name: 'closedShardTailAgedOut' });
          }
        },
        invocationTimedOut: (started) => {
          for (const container of runningByRequest.get(started.context.awsRequestId) ?? []) {
            container.kill('Lambda timeout');
            killed.add(container.id);
            log.add({ kind: 'fault', name: 'killedByTimeout' });
          }
        },
        recordsExpired: (shardId, sequenceNumbers) => log.trace.push(`${shardId}: ${sequenceNumbers.length} record(s) past retention dropped`),
      },
      handler: async (event, context) => {
        const invocation = invocations++;
        const fault = invocationFaults.get(invocation);
        const shardId = event.Records[0].eventID.split(':')[0];
        noteShape(event, shardId);
        let succeeded = false;
        try {
          const response = await invokeWithFault(fault, invocation, event, context);
          const failures = (response as KinesisStreamBatchResponse | undefined)?.batchItemFailures;
          succeeded = !failures || failures.length === 0;
          return response;
        } finally {
          await afterInvocation(fault, invocation, shardId, event, succeeded);
        }
      },
    });
    await mapping.initialize();
    if (settings.startingPosition !== 'TRIM_HORIZON') {
      log.add({ kind: 'fault', name: `start${settings.startingPosition}` });
      log.trace.push(`mapping started at ${settings.startingPosition}`);
    }
    return mapping;
  };

  /** Notes the shapes Lambda can give a batch that the checks want to see happen. */
  const noteShape = (event: KinesisStreamEvent, shardId: string): void => {
    const status = mapping?.shardStatuses().find((shard) => shard.shardId === shardId);
    const parents = status?.parentShardIds ?? [];
    const statuses = mapping?.shardStatuses() ?? [];
    if (parents.some((parent) => statuses.find((shard) => shard.shardId === parent)?.phase !== 'finished')) {
      log.add({ kind: 'fault', name: 'childBeforeParentFinished' });
    }
    if (JSON.stringify(event).length >= NEAR_LIMIT_EVENT_BYTES) log.add({ kind: 'fault', name: 'eventNear6MB' });
    if (settings.maximumBatchingWindowInSeconds > 0) log.add({ kind: 'fault', name: 'batchingWindow' });
  };

  const invokeWithFault = async (
    fault: InvocationFaultKind | undefined,
    invocation: number,
    event: KinesisStreamEvent,
    context: Context,
  ): Promise<unknown> => {
    if (fault === 'duplicate' || fault === 'duplicateOtherAnswer') {
      const [first, second] = await Promise.allSettled([invoke(0, invocation, event, context), invoke(1, invocation, event, context)]);
      const acted = fault === 'duplicate' ? first : second;
      log.trace.push(
        `invocation #${invocation}: duplicated on two containers (${settledText(first)} / ${settledText(second)}); Lambda acts on the ${
          fault === 'duplicate' ? 'first' : 'second'
        }`,
      );
      log.add({ kind: 'fault', name: fault });
      if (acted.status === 'rejected') throw acted.reason;
      return acted.value;
    }
    if (fault === 'otherContainer') log.trace.push(`invocation #${invocation}: on the second warm container`);
    const kill = fault === 'crash' ? 'beforeSend' : fault === 'killInFlight' ? 'afterSend' : undefined;
    return invoke(fault === 'otherContainer' ? 1 : 0, invocation, event, context, kill);
  };

  const afterInvocation = async (
    fault: InvocationFaultKind | undefined,
    invocation: number,
    shardId: string,
    event: KinesisStreamEvent,
    succeeded: boolean,
  ): Promise<void> => {
    const earlier = acknowledgedEvents.get(shardId) ?? [];
    if (fault === 'recycled' && slots[0] && !slots[0].killed) {
      slots[0].kill('reclaimed while frozen');
      killed.add(slots[0].id);
      log.add({ kind: 'fault', name: 'recycled' });
      log.trace.push(`invocation #${invocation}: its container is reclaimed while frozen`);
    } else if (fault === 'lateDuplicate' && earlier.length > 0) {
      const replayed = earlier[invocation % earlier.length];
      const context = createLambdaContext({ functionName: 'history', timeoutMs: functionTimeoutSeconds * 1000, clock });
      const result = await Promise.allSettled([invoke(1, invocation, replayed, context)]);
      log.add({ kind: 'fault', name: 'lateDuplicate' });
      log.trace.push(`invocation #${invocation}: then an acknowledged batch of ${shardId} is invoked again (${settledText(result[0])}; the answer is lost)`);
    } else if ((fault === 'replay' || fault === 'replaySeveral') && mapping) {
      const back = fault === 'replay' ? 1 : 2 + (invocation % 3);
      if (mapping.replay(shardId, back)) {
        log.add({ kind: 'fault', name: fault });
        log.trace.push(`invocation #${invocation}: Lambda reads ${shardId} again from ${back} acknowledged batch(es) back`);
      }
    } else if (fault === 'clockJump') {
      jump();
    }
    if (succeeded) {
      earlier.push(event);
      if (earlier.length > 4) earlier.shift();
      acknowledgedEvents.set(shardId, earlier);
    }
  };

  const ids = userRecordIds(history);
  const start = startStep(history);
  let stuck: string | undefined;
  try {
    for (const [index, step] of history.steps.entries()) {
      if (index === start) await startMapping();
      const open = await openShards(env.kinesis, streamName);
      if (step.kind === 'produce') {
        const beforeStart = mapping === undefined;
        await produce(env.kinesis, streamName, open[step.shard % open.length], step.records, ids, plans, log, clock, beforeStart, history.bigRecords);
      } else if (step.kind === 'split') {
        const parent = open[step.shard % open.length].ShardId!;
        const children = await splitShard(env.kinesis, streamName, parent);
        log.trace.push(`split ${parent} into ${children.join(', ')}`);
      } else if (step.kind === 'merge') {
        const pairs = adjacentPairs(open);
        if (pairs.length === 0) {
          log.trace.push('merge skipped: no adjacent open shards');
        } else {
          const [lower, upper] = pairs[step.pair % pairs.length];
          const child = await mergeShards(env.kinesis, streamName, lower, upper);
          log.trace.push(`merged ${lower} and ${upper} into ${child}`);
        }
      } else {
        jump();
      }
      if (step.drain && mapping) await runUntilSettled(mapping);
    }
    await runUntilSettled(await startMapping());
  } catch (error) {
    stuck = error instanceof Error ? error.message : String(error);
  } finally {
    await mapping?.stop();
    // Work a frozen or killed container still holds never runs again.
    // (Never invoked again, as if reclaimed: like a killed one, it may never hear an answer.)
    for (const container of slots) {
      if (!container) continue;
      container.kill('the history is over');
      killed.add(container.id);
    }
  }
  log.shards = (await listShards(env.kinesis, streamName)).map((shard) => ({
    shardId: shard.ShardId!,
    parentShardIds: [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => !!id),
    closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
  }));
  log.trace.push(`DynamoDB requests: ${faults.requestCount}; injected: ${faults.injected.join(', ') || 'none'}`);
  if (mapping) log.trace.push(`mapping: ${JSON.stringify(mapping.stats())}`);
  useStreamClock(undefined);
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
  ) {}

  newContainer(tableName: string, env: HistoryEnvironment, functionTimeoutSeconds: number, startingPositionTimestamp?: Date): RuntimeHandler {
    const options = {
      tableName,
      dynamoDb: env.dynamoDb,
      kinesis: env.kinesis,
      logger: quietLogger,
      metrics: false as const,
      timeoutGuardMs: this.history.timeoutGuard
        ? functionTimeoutSeconds * 1000 - GUARD_FIRES_AFTER_MS
        : this.history.lambdaTimeout
          ? 0
          : undefined,
      startingPosition: this.history.mapping.startingPosition,
      startingPositionTimestamp,
      maxRecordAgeSeconds: this.history.mapping.maximumRecordAgeInSeconds,
    };
    if (this.history.api === 'withRecordHandler') {
      return withRecordHandler((record) => this.handleOne(record, true), options);
    }
    return withKclProcessor((shardId) => this.newProcessor(shardId), { ...options, checkpointing: this.history.checkpointing });
  }

  /** Handles one user record as the plan says: maybe slow, maybe throwing. */
  private async handleOne(record: KinesisUserRecord, logDelivery: boolean): Promise<void> {
    const id = idOf(record);
    if (logDelivery) this.delivered(record, id);
    const container = invocationScope.getStore()?.container;
    // Only while the container runs: a frozen one waits here, a killed one stops for good.
    await container?.running();
    const plan = this.plans.get(id);
    const slowFor = this.history.timeoutGuard
      ? Number(id.slice(1)) % 2 === 1
        ? SLOWER_THAN_LAST_CALL_MS
        : SLOW_RECORD_MS
      : this.history.lambdaTimeout
        ? SLOW_PAST_LAMBDA_TIMEOUT_MS
        : 0;
    if (slowFor > 0 && plan?.slow && !this.slowDone.has(id)) {
      this.slowDone.add(id);
      const scope = invocationScope.getStore();
      await sleep(slowFor);
      await container?.running();
      // The invocation that started this work is over: it resumed inside a later one.
      if (scope && container && !container.isRunning(scope.invocation)) this.log.add({ kind: 'fault', name: 'leftoverRanInLaterInvocation' });
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
      container: scope?.container.id ?? -1,
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
        for (const record of records) this.delivered(record, idOf(record));
        const work = (async () => {
          for (const [index, record] of records.entries()) {
            if (stopRequested) return;
            await this.handleOne(record, false);
            lastDone = record;
            if (every > 0 && (index + 1) % every === 0) await checkpointer.checkpoint(record);
          }
          if (manual) await checkpointer.checkpoint();
        })();
        return work;
      },
      shardEnded: async ({ checkpointer }) => {
        const scope = invocationScope.getStore();
        this.log.add({ kind: 'shardEnded', invocation: scope?.invocation ?? -1, container: scope?.container.id ?? -1, shardId });
        await checkpointer.checkpoint();
      },
      leaseLost: () => {
        this.log.add({ kind: 'leaseLost', shardId, container: invocationScope.getStore()?.container.id ?? -1 });
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
  clock: StreamClock,
  beforeStart: boolean,
  bigRecords: boolean,
): Promise<void> {
  const puts = records.map((record) => {
    const userIds = ids.get(record)!;
    record.users.forEach((user, index) => plans.set(userIds[index], user));
    // The shard's starting hash key routes every record into it.
    const explicitHashKey = shard.HashKeyRange!.StartingHashKey!;
    if (!record.aggregated) {
      const data = bigRecords && record.big ? Buffer.concat([Buffer.from(`${userIds[0]}#`), Buffer.alloc(BIG_RECORD_BYTES, 'x')]) : userIds[0];
      return { data, partitionKey: userIds[0], explicitHashKey };
    }
    const data = aggregate(userIds.map((id) => ({ partitionKey: id, data: Buffer.from(id) })));
    return { data, partitionKey: userIds[0], explicitHashKey };
  });
  // PutRecords takes 5 MB a call: big records go one by one.
  const results = [];
  if (puts.some((put) => typeof put.data !== 'string' && put.data.length > BIG_RECORD_BYTES)) {
    for (const put of puts) results.push(...(await putRecords(kinesis, streamName, [put])));
  } else {
    results.push(...(await putRecords(kinesis, streamName, puts)));
  }
  clock.put(results.map((result) => result.sequenceNumber));
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
        ...(beforeStart ? { beforeStart } : {}),
      }),
    );
  });
  log.trace.push(`put ${records.map((record) => ids.get(record)!.join('+')).join(', ')} into ${shardId}${beforeStart ? ' (before the mapping started)' : ''}`);
}

/** The user record's id: its data up to `#` (a big record pads it). */
function idOf(record: KinesisUserRecord): string {
  return Buffer.from(record.data.subarray(0, 24)).toString('utf8').split('#')[0];
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
