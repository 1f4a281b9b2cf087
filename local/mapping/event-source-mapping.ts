import { randomUUID } from 'node:crypto';
import {
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  ResourceNotFoundException,
  type KinesisClient,
  type ListShardsCommandOutput,
  type _Record as KinesisRecord,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import { judgeOutcome, type BatchVerdict, type InvocationOutcome } from './batch-response';
import { systemClock, type Clock } from './clock';
import { EMPTY_EVENT_BYTES, eventRecordBytes, toKinesisStreamEvent, type EventSource } from './kinesis-event';
import { createLambdaContext, functionArn, LOCAL_ACCOUNT_ID } from './lambda-context';
import { resolveSettings, type EventSourceMappingSettings } from './mapping-settings';
import type { KinesisOnFailureRecord, OnFailureCondition, OnFailureDestination } from './on-failure-destination';
import { ShardReader, type ReadStart } from './shard-reader';

/** A function the mapping invokes: a Lambda handler for Kinesis, promise style. */
export type KinesisBatchHandler = (event: KinesisStreamEvent, context: Context) => unknown;

/** Lambda caps a synchronous invocation payload at 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

export interface InvocationStarted {
  readonly shardId: string;
  readonly event: KinesisStreamEvent;
  readonly context: Context;
  /** 1 for the first invocation of these records, 2 for the first retry, ... */
  readonly attempt: number;
}

export interface InvocationFinished extends InvocationStarted {
  readonly outcome: InvocationOutcome;
  readonly verdict: BatchVerdict;
}

/** Hooks to watch every step; a test can assert on them or inject faults from them. */
export interface EventSourceMappingObserver {
  invocationStarted?(invocation: InvocationStarted): void;
  invocationFinished?(invocation: InvocationFinished): void;
  batchDiscarded?(record: KinesisOnFailureRecord): void;
  /** Lambda's timeout ended an invocation; the handler's promise is abandoned. */
  invocationTimedOut?(invocation: InvocationStarted): void;
  /** Records aged out of the stream's retention before they were finished; nothing describes them. */
  recordsExpired?(shardId: string, sequenceNumbers: readonly string[]): void;
  /** A closed shard has been read and processed to its end; its children may start. */
  shardFinished?(shardId: string): void;
  shardStarted?(shardId: string, parentShardIds: readonly string[]): void;
}

export interface EventSourceMappingOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly handler: KinesisBatchHandler;
  /** Settings as read from a template, or explicit props over Lambda's defaults. */
  readonly settings?: Partial<EventSourceMappingSettings>;
  /** Where exhausted or expired batches are described; without one they are dropped, as in Lambda. */
  readonly onFailure?: OnFailureDestination;
  readonly clock?: Clock;
  /** Pause between polls of a caught-up stream (Lambda polls each shard about once a second). @default 100 */
  readonly pollIntervalMs?: number;
  /** How often to look for new shards while running. @default 1000 */
  readonly shardDiscoveryIntervalMs?: number;
  /** @default - a local role ARN */
  readonly invokeIdentityArn?: string;
  readonly observer?: EventSourceMappingObserver;
  /**
   * Step shards concurrently within a polling round (as Lambda does) or one after
   * another in shard-id order, for reproducible interleavings.
   * @default true
   */
  readonly concurrentShards?: boolean;
  /**
   * Start a child shard only after every parent is read and processed to its end.
   * Lambda does not document that it waits, so `false` starts children as soon as
   * they are discovered (their batches may arrive while a parent's are in flight).
   * @default true
   */
  readonly childrenWaitForParents?: boolean;
  /**
   * A timed-out invocation's environment is reset on AWS, so the shard's next batch
   * need not wait for it. In-process the handler cannot be killed: by default the
   * next batch waits for it (up to one more timeout). `false` does not wait (for a
   * caller that stops the handler itself, see `observer.invocationTimedOut`).
   * @default true
   */
  readonly waitForTimedOutHandlers?: boolean;
  /**
   * The stream's retention. With it, buffered records older than this are gone from
   * the stream (as Kinesis trims them): they are dropped without an on-failure record,
   * as Lambda does with MaximumRecordAgeInSeconds -1 (see `observer.recordsExpired`).
   * @default - never (the emulator's records do not expire)
   */
  readonly streamRetentionMs?: number;
}

/** A piece of a shard's buffer being delivered, with its retry bookkeeping. */
interface PendingBatch {
  records: KinesisRecord[];
  invocations: number;
  /**
   * Failures charged to the retry quota since the head record of `records` became
   * the head: bisecting is free, as in Lambda, and progress starts a new count.
   */
  retriesUsed: number;
  lastRequestId?: string;
  lastFunctionError?: string;
  /** The records were delivered before (a partial response): counted as a retry in the stats. */
  redelivered?: boolean;
}

type ShardPhase = 'waitingForParents' | 'reading' | 'finished';

interface ShardState {
  /** Refreshed at each discovery: a shard closes (gets an ending sequence number) when resharded. */
  shard: Shard;
  readonly parentShardIds: readonly string[];
  readonly start: ReadStart;
  phase: ShardPhase;
  reader?: ShardReader;
  /** Consecutive prefixes of the reader's buffer, delivered in order. */
  readonly queue: PendingBatch[];
  /** When the buffer last went from empty to non-empty, for the batching window. */
  bufferingSince?: number;
  /** The last sequence number the mapping finished (processed or discarded). */
  checkpoint?: string;
  /** A timed-out invocation that may still be running. */
  lingering?: Promise<unknown>;
  /** The first sequence number of each acknowledged batch, oldest first (the last few). */
  readonly acknowledged: string[];
  /** A replay asked for by `replay()`: read again from this sequence number. */
  replayFrom?: string;
  readonly stats: ShardStats;
}

/** How many acknowledged batches per shard `replay()` can go back to. */
const REPLAYABLE_BATCHES = 8;

export interface ShardStats {
  invocations: number;
  retries: number;
  /** Kinesis records the function finished without error. */
  recordsSucceeded: number;
  /** Kinesis records given up and described to the on-failure destination. */
  recordsDiscarded: number;
  bisections: number;
}

export interface ShardStatus {
  readonly shardId: string;
  readonly parentShardIds: readonly string[];
  readonly phase: ShardPhase;
  readonly closed: boolean;
  readonly checkpoint?: string;
  readonly bufferedRecords: number;
  readonly stats: Readonly<ShardStats>;
}

export interface MappingStats extends ShardStats {
  readonly onFailureRecords: number;
}

/** What one shard did in one polling round. */
type StepResult = 'progress' | 'waiting' | 'idle' | 'blocked' | 'finished';

/** The stream named to the mapping does not exist. */
export class StreamNotFoundError extends Error {
  override readonly name = 'StreamNotFoundError';
  constructor(readonly streamName: string, options?: { cause?: unknown }) {
    super(`Kinesis stream ${JSON.stringify(streamName)} does not exist.`, options);
  }
}

/**
 * Lambda's event source mapping for a Kinesis stream, emulated: polls every
 * shard, keeps one batch in flight per shard, starts child shards only after
 * all their parents are processed to the end, batches by size and batching
 * window, invokes the handler with Lambda's event and context, and applies
 * Lambda's response, retry, record-age, bisect and on-failure rules.
 *
 * Drive it with `start()`/`stop()`, or step it with `pollOnce()` and
 * `runUntilIdle()`; watch it through `observer`.
 */
export class EmulatedEventSourceMapping {
  readonly settings: EventSourceMappingSettings;
  private readonly clock: Clock;
  private readonly shards = new Map<string, ShardState>();
  private source?: EventSource;
  private discoveredAt?: number;
  private discoveryWanted = true;
  private onFailureCount = 0;
  private running?: Promise<void>;
  private stopRequested = false;
  private wake = new AbortController();

  constructor(private readonly options: EventSourceMappingOptions) {
    this.settings = resolveSettings(options.settings);
    this.clock = options.clock ?? systemClock;
  }

  /** The stream's ARN and the shard layout; fails with StreamNotFoundError if there is no such stream. */
  async initialize(): Promise<void> {
    if (this.source) return;
    let streamArn: string;
    try {
      const summary = await this.options.kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: this.options.streamName }),
      );
      streamArn = summary.StreamDescriptionSummary?.StreamARN ?? '';
    } catch (error) {
      if (error instanceof ResourceNotFoundException) throw new StreamNotFoundError(this.options.streamName, { cause: error });
      throw error;
    }
    this.source = {
      streamArn,
      region: streamArn.split(':')[3] || 'us-east-1',
      invokeIdentityArn: this.options.invokeIdentityArn ?? `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/kcl-lambda-local`,
    };
    await this.discoverShards(true);
  }

  /** Polls in the background until `stop()`. */
  start(): void {
    if (this.running) return;
    this.stopRequested = false;
    this.wake = new AbortController();
    this.running = (async () => {
      await this.initialize();
      while (!this.stopRequested) {
        const progressed = await this.pollOnce();
        if (!progressed && !this.stopRequested) await this.clock.sleep(this.idlePauseMs(), this.wake.signal);
      }
    })();
  }

  /** Stops polling after the round in flight; waits for it. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.wake.abort();
    const running = this.running;
    this.running = undefined;
    await running;
  }

  /**
   * Polls until nothing is left to do: every shard caught up or finished, no
   * batch waiting for a retry, no record waiting in a batching window.
   * Throws if that does not happen within `timeoutMs` of real time (e.g. a batch that fails
   * forever with unlimited retries).
   */
  async runUntilIdle(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.initialize();
    // Real time: the mapping's clock may be a test's, which can jump.
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    this.discoveryWanted = true;
    for (;;) {
      const progressed = await this.pollOnce();
      if (!progressed && this.isIdle()) {
        // New shards may have appeared since the last look; idle only if none did.
        if (!(await this.discoverShards(true))) return;
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`The event source mapping did not become idle within ${options.timeoutMs ?? 60_000} ms: ${this.describe()}`);
      }
      if (!progressed) await this.clock.sleep(this.idlePauseMs());
    }
  }

  /** One polling round: each active shard reads and, if a batch is due, invokes once. True if anything moved. */
  async pollOnce(): Promise<boolean> {
    await this.initialize();
    const discovered = await this.discoverShards(false);
    const states = [...this.shards.values()].sort((a, b) => a.shard.ShardId!.localeCompare(b.shard.ShardId!));
    let results: StepResult[];
    if (this.options.concurrentShards === false) {
      results = [];
      for (const state of states) results.push(await this.step(state));
    } else {
      results = await Promise.all(states.map((state) => this.step(state)));
    }
    return discovered || results.includes('progress');
  }

  /** Totals over all shards. */
  stats(): MappingStats {
    const total: ShardStats = { invocations: 0, retries: 0, recordsSucceeded: 0, recordsDiscarded: 0, bisections: 0 };
    for (const state of this.shards.values()) {
      for (const key of Object.keys(total) as (keyof ShardStats)[]) total[key] += state.stats[key];
    }
    return { ...total, onFailureRecords: this.onFailureCount };
  }

  shardStatuses(): ShardStatus[] {
    return [...this.shards.values()]
      .sort((a, b) => a.shard.ShardId!.localeCompare(b.shard.ShardId!))
      .map((state) => ({
        shardId: state.shard.ShardId!,
        parentShardIds: state.parentShardIds,
        phase: state.phase,
        closed: state.shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
        checkpoint: state.checkpoint,
        bufferedRecords: state.reader?.buffer.length ?? 0,
        stats: { ...state.stats },
      }));
  }

  /**
   * Lambda delivers at least once: its poller may lose its position and read again
   * from an earlier, already acknowledged batch. The shard's next step re-reads from
   * the start of the `batchesBack`-th last acknowledged batch (1: the last one), and
   * forms batches afresh, so boundaries may differ (a replay merged with the next
   * batch). A batch in flight or being retried is dropped and read again. False if
   * the shard has nothing acknowledged to replay or is not being read.
   */
  replay(shardId: string, batchesBack = 1): boolean {
    const state = this.shards.get(shardId);
    if (!state || state.phase !== 'reading' || state.acknowledged.length === 0) return false;
    state.replayFrom = state.acknowledged[Math.max(0, state.acknowledged.length - batchesBack)];
    return true;
  }

  /** The stream ARN, once initialized. */
  get streamArn(): string | undefined {
    return this.source?.streamArn;
  }

  private idlePauseMs(): number {
    const pollInterval = this.options.pollIntervalMs ?? 100;
    const windows = [...this.shards.values()]
      .filter((state) => state.bufferingSince !== undefined)
      .map((state) => state.bufferingSince! + this.windowMs() - this.clock.now());
    return Math.max(1, Math.min(pollInterval, ...windows));
  }

  private windowMs(): number {
    return this.settings.maximumBatchingWindowInSeconds * 1000;
  }

  private isIdle(): boolean {
    for (const state of this.shards.values()) {
      if (state.phase === 'finished') continue;
      if (state.phase === 'waitingForParents') {
        if (this.parentsFinished(state)) return false;
        continue;
      }
      const reader = state.reader!;
      if (state.queue.length > 0 || reader.buffer.length > 0 || reader.endOfShard || !reader.caughtUp) return false;
      // A shard known to be closed is not idle until its reader has seen the end: Kinesis
      // (and kinesalite) may report the end only on the read after an empty one.
      if (state.shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) return false;
    }
    return true;
  }

  private describe(): string {
    return this.shardStatuses()
      .map((status) => `${status.shardId} ${status.phase} buffered=${status.bufferedRecords} checkpoint=${status.checkpoint ?? '-'}`)
      .join('; ');
  }

  /** Lists shards when asked to or when the interval has passed; true if new shards were found. */
  private async discoverShards(force: boolean): Promise<boolean> {
    const now = this.clock.now();
    const interval = this.options.shardDiscoveryIntervalMs ?? 1000;
    if (!force && !this.discoveryWanted && this.discoveredAt !== undefined && now - this.discoveredAt < interval) return false;
    this.discoveryWanted = false;
    const initial = this.discoveredAt === undefined;
    this.discoveredAt = now;

    const shards: Shard[] = [];
    let nextToken: string | undefined;
    do {
      let page: ListShardsCommandOutput;
      try {
        page = await this.options.kinesis.send(
          new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: this.options.streamName }),
        );
      } catch (error) {
        if (error instanceof ResourceNotFoundException) throw new StreamNotFoundError(this.options.streamName, { cause: error });
        throw error;
      }
      shards.push(...(page.Shards ?? []));
      nextToken = page.NextToken;
    } while (nextToken);

    let found = false;
    for (const shard of shards) {
      const shardId = shard.ShardId!;
      const known = this.shards.get(shardId);
      if (known) {
        // A shard closes when it is split or merged; learn its ending sequence number.
        known.shard = shard;
        continue;
      }
      found = true;
      const parentShardIds = [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => !!id);
      // The configured starting position applies to the shards that exist when the
      // mapping starts; shards born later from a reshard are read from their start.
      const start: ReadStart = initial
        ? { position: this.settings.startingPosition, timestamp: this.settings.startingPositionTimestamp }
        : { position: 'TRIM_HORIZON' };
      const state: ShardState = {
        shard,
        parentShardIds,
        start,
        phase: 'waitingForParents',
        queue: [],
        acknowledged: [],
        stats: { invocations: 0, retries: 0, recordsSucceeded: 0, recordsDiscarded: 0, bisections: 0 },
      };
      this.shards.set(shardId, state);
      if (initial && start.position !== 'TRIM_HORIZON') {
        // LATEST and AT_TIMESTAMP are fixed when the mapping starts, not when the shard is first polled.
        state.reader = new ShardReader(this.options.kinesis, this.options.streamName, shardId, start);
        await state.reader.prepare();
      }
    }
    return found;
  }

  private parentsFinished(state: ShardState): boolean {
    if (this.options.childrenWaitForParents === false) return true;
    // A parent no longer listed has aged out of the stream: nothing left to read.
    return state.parentShardIds.every((parentId) => {
      const parent = this.shards.get(parentId);
      return parent === undefined || parent.phase === 'finished';
    });
  }

  private async step(state: ShardState): Promise<StepResult> {
    if (state.phase === 'finished') return 'finished';
    const shardId = state.shard.ShardId!;
    if (state.phase === 'waitingForParents') {
      if (!this.parentsFinished(state)) return 'blocked';
      state.phase = 'reading';
      state.reader ??= new ShardReader(this.options.kinesis, this.options.streamName, shardId, state.start);
      this.options.observer?.shardStarted?.(shardId, state.parentShardIds);
    }
    const reader = state.reader!;
    const batchSize = this.settings.batchSize;
    if (state.replayFrom !== undefined) {
      reader.restartAt(state.replayFrom);
      state.queue.length = 0;
      state.bufferingSince = undefined;
      // What is read again will be acknowledged again.
      state.acknowledged.length = Math.max(0, state.acknowledged.indexOf(state.replayFrom));
      state.replayFrom = undefined;
    }

    if (state.queue.length === 0) {
      const read = await reader.fill(batchSize);
      if (reader.buffer.length === 0) {
        if (reader.endOfShard) {
          state.phase = 'finished';
          this.discoveryWanted = true;
          this.options.observer?.shardFinished?.(shardId);
          return 'progress';
        }
        state.bufferingSince = undefined;
        return read > 0 ? 'progress' : 'idle';
      }
      state.bufferingSince ??= this.clock.now();
      const full = reader.buffer.length >= batchSize || takeBatch(reader.buffer, batchSize, shardId, this.source!).length < reader.buffer.length;
      const windowOver = this.clock.now() - state.bufferingSince >= this.windowMs();
      if (!full && !windowOver && !reader.endOfShard) return read > 0 ? 'progress' : 'waiting';
      state.queue.push({ records: takeBatch(reader.buffer, batchSize, shardId, this.source!), invocations: 0, retriesUsed: 0 });
    }

    const batch = state.queue[0];
    if (await this.discardExpired(state, batch)) return 'progress';
    await this.invoke(state, batch);
    return 'progress';
  }

  /** Sends records older than MaximumRecordAgeInSeconds to the on-failure destination. True if the batch is gone. */
  private async discardExpired(state: ShardState, batch: PendingBatch): Promise<boolean> {
    const retention = this.options.streamRetentionMs;
    if (retention !== undefined) {
      const trimmedBefore = this.clock.now() - retention;
      let gone = 0;
      while (gone < batch.records.length && arrival(batch.records[gone]) < trimmedBefore) gone++;
      if (gone > 0) {
        const sequenceNumbers = batch.records.slice(0, gone).map((record) => record.SequenceNumber!);
        this.complete(state, gone);
        batch.records = batch.records.slice(gone);
        if (batch.records.length === 0) state.queue.shift();
        this.options.observer?.recordsExpired?.(state.shard.ShardId!, sequenceNumbers);
        if (state.queue[0] !== batch) return true;
      }
    }
    const maxAgeSeconds = this.settings.maximumRecordAgeInSeconds;
    if (maxAgeSeconds < 0) return false;
    const oldestAllowed = this.clock.now() - maxAgeSeconds * 1000;
    let expired = 0;
    while (expired < batch.records.length && arrival(batch.records[expired]) < oldestAllowed) expired++;
    if (expired === 0) return false;
    await this.discard(state, batch, expired, 'RecordAgeExceeded');
    return state.queue[0] !== batch;
  }

  private async invoke(state: ShardState, batch: PendingBatch): Promise<void> {
    const shardId = state.shard.ShardId!;
    if (state.lingering && this.options.waitForTimedOutHandlers !== false) {
      // Lambda would have killed a timed-out sandbox; here the promise may still run, so
      // let it settle (within one more timeout) before the shard's next batch starts.
      await Promise.race([state.lingering, this.clock.sleep(this.timeoutMs())]);
      state.lingering = undefined;
    }
    batch.invocations++;
    state.stats.invocations++;
    if (batch.invocations > 1 || batch.redelivered) state.stats.retries++;

    const event = toKinesisStreamEvent(shardId, batch.records, this.source!);
    const startedAt = this.clock.now();
    const context = createLambdaContext({
      functionName: this.settings.functionName,
      timeoutMs: this.timeoutMs(),
      startedAt,
      clock: this.clock,
      region: this.source!.region,
    });
    batch.lastRequestId = context.awsRequestId;
    const started: InvocationStarted = { shardId, event, context, attempt: batch.invocations };
    this.options.observer?.invocationStarted?.(started);

    const outcome = await this.runHandler(state, event, context);
    if (outcome.kind === 'timedOut') this.options.observer?.invocationTimedOut?.(started);
    // The batching window of the next batch starts when this invocation is over.
    if (state.bufferingSince !== undefined) state.bufferingSince = this.clock.now();
    const verdict = judgeOutcome(
      outcome,
      batch.records.map((record) => record.SequenceNumber!),
      this.settings.reportBatchItemFailures,
    );
    this.options.observer?.invocationFinished?.({ ...started, outcome, verdict });
    await this.apply(state, batch, verdict);
  }

  private timeoutMs(): number {
    return this.settings.functionTimeoutSeconds * 1000;
  }

  private async runHandler(state: ShardState, event: KinesisStreamEvent, context: Context): Promise<InvocationOutcome> {
    const timeoutMs = this.timeoutMs();
    const handlerDone = (async (): Promise<InvocationOutcome> => {
      try {
        return { kind: 'returned', response: await this.options.handler(event, context) };
      } catch (error) {
        return { kind: 'threw', error };
      }
    })();
    const timer = new AbortController();
    const timedOut = this.clock.sleep(timeoutMs, timer.signal).then((): InvocationOutcome => ({ kind: 'timedOut', timeoutMs }));
    const outcome = await Promise.race([handlerDone, timedOut]);
    timer.abort();
    if (outcome.kind === 'timedOut') state.lingering = handlerDone;
    return outcome;
  }

  /** Lambda's rules after an invocation: advance, retry from a record, bisect, or give up. */
  private async apply(state: ShardState, batch: PendingBatch, verdict: BatchVerdict): Promise<void> {
    if (verdict.kind === 'success' || (verdict.kind === 'partial' && verdict.retryFromIndex > 0)) {
      state.acknowledged.push(batch.records[0].SequenceNumber!);
      if (state.acknowledged.length > REPLAYABLE_BATCHES) state.acknowledged.shift();
    }
    if (verdict.kind === 'success') {
      this.complete(state, batch.records.length);
      state.stats.recordsSucceeded += batch.records.length;
      state.queue.shift();
      return;
    }
    if (verdict.kind === 'partial') {
      // Everything before the lowest reported record is done; retry from it.
      this.complete(state, verdict.retryFromIndex);
      state.stats.recordsSucceeded += verdict.retryFromIndex;
      batch.records = batch.records.slice(verdict.retryFromIndex);
      batch.lastFunctionError = undefined;
      if (verdict.retryFromIndex > 0) {
        // As on AWS, the rest is a new batch: its own 1 + MaximumRetryAttempts invocations,
        // and approximateInvokeCount counts from its first.
        batch.retriesUsed = 0;
        batch.invocations = 0;
        batch.redelivered = true;
        return;
      }
    } else {
      batch.lastFunctionError = verdict.functionError;
      if (this.settings.bisectBatchOnFunctionError && batch.records.length > 1) {
        const half = Math.ceil(batch.records.length / 2);
        const halves = [batch.records.slice(0, half), batch.records.slice(half)].map(
          (records): PendingBatch => ({ ...batch, records }),
        );
        state.queue.splice(0, 1, ...halves);
        state.stats.bisections++;
        return;
      }
    }
    batch.retriesUsed++;
    const limit = this.settings.maximumRetryAttempts;
    if (limit >= 0 && batch.retriesUsed > limit) {
      await this.discard(state, batch, batch.records.length, 'RetryAttemptsExhausted');
    }
  }

  /** The first `count` records of the shard's buffer are done. */
  private complete(state: ShardState, count: number): void {
    if (count === 0) return;
    const reader = state.reader!;
    state.checkpoint = reader.buffer[count - 1].SequenceNumber;
    reader.drop(count);
    if (reader.buffer.length === 0) state.bufferingSince = undefined;
  }

  /** Gives up on the first `count` records of the batch: one on-failure record, then move past them. */
  private async discard(state: ShardState, batch: PendingBatch, count: number, condition: OnFailureCondition): Promise<void> {
    const records = batch.records.slice(0, count);
    const first = records[0];
    const last = records[records.length - 1];
    const record: KinesisOnFailureRecord = {
      requestContext: {
        requestId: batch.lastRequestId ?? randomUUID(),
        functionArn: functionArn(this.settings.functionName, this.source!.region),
        condition,
        // AWS reports 1 for a batch that expired before it was ever invoked.
        approximateInvokeCount: Math.max(1, batch.invocations),
      },
      // AWS sends no response context for expired records; `null` when the function returned.
      ...(condition === 'RecordAgeExceeded'
        ? {}
        : { responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: batch.lastFunctionError ?? null } }),
      version: '1.0',
      timestamp: new Date(this.clock.now()).toISOString(),
      KinesisBatchInfo: {
        shardId: state.shard.ShardId!,
        startSequenceNumber: first.SequenceNumber!,
        endSequenceNumber: last.SequenceNumber!,
        approximateArrivalOfFirstRecord: new Date(arrival(first)).toISOString(),
        approximateArrivalOfLastRecord: new Date(arrival(last)).toISOString(),
        batchSize: records.length,
        streamArn: this.source!.streamArn,
      },
    };
    this.complete(state, count);
    state.stats.recordsDiscarded += count;
    batch.records = batch.records.slice(count);
    if (batch.records.length === 0) state.queue.shift();
    this.onFailureCount++;
    this.options.observer?.batchDiscarded?.(record);
    await this.options.onFailure?.send(record, toKinesisStreamEvent(state.shard.ShardId!, records, this.source!));
  }
}

function arrival(record: KinesisRecord): number {
  return record.ApproximateArrivalTimestamp?.getTime() ?? 0;
}

/** The next batch from the front of the buffer: at most `batchSize` records and 6 MB of event JSON. */
function takeBatch(buffer: readonly KinesisRecord[], batchSize: number, shardId: string, source: EventSource): KinesisRecord[] {
  let bytes = EMPTY_EVENT_BYTES;
  let count = 0;
  while (count < buffer.length && count < batchSize) {
    bytes += eventRecordBytes(shardId, buffer[count], source) + (count > 0 ? 1 : 0);
    if (count > 0 && bytes > MAX_PAYLOAD_BYTES) break;
    count++;
  }
  return buffer.slice(0, count);
}
