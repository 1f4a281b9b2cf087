/**
 * The per-shard state machine, in one place (like KCL's lifecycle package):
 *
 *   new ──initialize──▶ initialized ──processRecords*──▶ initialized
 *                            │
 *                            ├──shardEnded──▶ ended        (parent drained, SHARD_END)
 *                            ├──leaseLost───▶ lost         (a conditional write was lost)
 *                            └──shutdownRequested──▶ shut down (timeout guard)
 *
 * A consumer that leaves `initialized` is dropped; the shard's next batch gets a
 * fresh processor and a fresh `initialize`. Each step below is a small function.
 */
import { type ShardBatchStats, emptyShardBatchStats } from '../observability/batch-stats';
import { CheckpointSession } from '../leases/checkpointer';
import { CheckpointError, ParentShardNotFinishedError, ProcessorUnusableError } from '../errors';
import type { KinesisUserRecord } from '../records/kinesis-user-record';
import { type ShardBatch, appendUserRecords } from '../records/kinesis-event';
import { type Lease, type LeaseStore, leaseExists, newLease } from '../leases/lease';
import type { CheckpointingMode, KclLogger } from '../options';
import type { Checkpointer, RecordProcessor, RecordProcessorFactory } from '../record-processor';
import {
  type ExtendedSequenceNumber,
  SHARD_END,
  compareExtended,
  formatExtended,
  isAfter,
  isStartingPosition,
} from '../records/sequence-number';
import type { ShardLineage } from './shard-lineage';
import { streamNameFromArn } from '../records/stream-arn';
import type { HandoffPolicy, HandoffVerdict } from '../leases/lease-handoff';
import type { LeaseKeys, StreamLeaseKeys } from './lease-keys';
import type { TimeoutGuard } from './timeout-guard';
import { type UndecodableRecord, type UserRecordSource, UserRecordStream, decodeShardBatch } from '../records/user-record-stream';

/** What the lifecycle needs from the container it runs in. */
export interface LifecycleContext {
  readonly store: LeaseStore;
  readonly lineage: () => ShardLineage;
  readonly factory: RecordProcessorFactory;
  readonly checkpointing: CheckpointingMode;
  readonly deaggregate: boolean;
  readonly owner: string;
  readonly logger: KclLogger;
  readonly consumers: ShardConsumers;
  /** Where the event source mapping starts a shard without a checkpoint. */
  readonly startingPosition: StartingPosition;
  /** Which row holds a shard's lease. */
  readonly leaseKeys: LeaseKeys;
  /** How KCL 3 graceful handoffs are judged and waited for. */
  readonly handoffs: HandoffPolicy;
  /** The mapping's MaximumRecordAgeInSeconds in ms; undefined when Lambda never discards by age. */
  readonly maxRecordAgeMs?: number;
}

/** A stream as the lifecycle needs it: its name for Kinesis calls, its lease keys for the table. */
interface LeaseStream {
  readonly streamName: string;
  readonly keys: StreamLeaseKeys;
}

/**
 * A parent record this much past the record age is one Lambda discarded or will discard:
 * a batch invoked just before it aged out may run for up to Lambda's longest timeout.
 */
const LONGEST_FUNCTION_TIMEOUT_MS = 15 * 60 * 1000;

export interface StartingPosition {
  readonly position: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
  readonly timestamp?: Date;
}

/** The outcome of one shard's part of an invocation. */
export interface ShardBatchResult {
  /** Kinesis sequence number of the first record Lambda must deliver again, if any. */
  readonly failedSequenceNumber?: string;
  readonly checkpoint: ExtendedSequenceNumber;
  readonly stats: ShardBatchStats;
  readonly firstSequenceNumber?: string;
  readonly lastSequenceNumber?: string;
}

/** The key of a processor's per-record entry point (withRecordHandler's); a symbol, so no user processor has it by chance. */
export const processRecordStream: unique symbol = Symbol('kcl-lambda.processRecordStream');

export interface ProcessRecordStreamInput {
  readonly shardId: string;
  /** The batch's records above the checkpoint, decoded as they are taken. */
  readonly records: UserRecordSource;
  readonly checkpointer: Checkpointer;
}

/**
 * A processor that takes the batch's records one at a time: the engine decodes each
 * record as it is taken and builds no array of the whole batch. Returning means done
 * with every record taken; the records not taken are reported failed.
 */
export interface StreamingRecordProcessor extends RecordProcessor {
  [processRecordStream](input: ProcessRecordStreamInput): void | Promise<void>;
}

function isStreaming(processor: RecordProcessor): processor is StreamingRecordProcessor {
  return typeof (processor as Partial<StreamingRecordProcessor>)[processRecordStream] === 'function';
}

type ConsumerState = 'new' | 'initialized';

/** A shard's processor in this container. */
export interface ShardConsumer {
  readonly shardId: string;
  readonly processor: RecordProcessor;
  state: ConsumerState;
}

/** The live consumers of this container, one per shard. */
export class ShardConsumers {
  private readonly byShard = new Map<string, ShardConsumer>();
  private readonly busy = new Map<string, Promise<unknown>>();
  private readonly unfinished = new Map<string, Promise<unknown>>();

  constructor(private readonly factory: RecordProcessorFactory) {}

  get(shardId: string): ShardConsumer {
    let consumer = this.byShard.get(shardId);
    if (!consumer) {
      consumer = { shardId, processor: this.factory(shardId), state: 'new' };
      this.byShard.set(shardId, consumer);
    }
    return consumer;
  }

  /** The shard's consumer in this container, if there is one; never creates one. */
  find(shardId: string): ShardConsumer | undefined {
    return this.byShard.get(shardId);
  }

  /** Forget a consumer that left the `initialized` state. */
  drop(consumer: ShardConsumer): void {
    if (this.byShard.get(consumer.shardId) === consumer) this.byShard.delete(consumer.shardId);
  }

  /** A processRecords the timeout guard stopped waiting for, still running. */
  leaveRunning(shardId: string, work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.unfinished.set(shardId, settled);
    void settled.then(() => this.unfinished.get(shardId) === settled && this.unfinished.delete(shardId));
  }

  /** True once the shard's unfinished processRecords (if any) has returned; false if `deadline` comes first. */
  async unfinishedSettled(shardId: string, deadline: Promise<unknown>): Promise<boolean> {
    const unfinished = this.unfinished.get(shardId);
    if (!unfinished) return true;
    return Promise.race([unfinished.then(() => true), deadline.then(() => false)]);
  }

  /**
   * Runs `work` when nothing else runs for this shard in this container: one batch
   * per shard at a time, as Lambda guarantees, and a parent is ended once even when
   * both children of a split arrive together. Locks are only ever taken from child
   * to parent, so they cannot deadlock.
   */
  exclusive<T>(shardId: string, work: () => Promise<T>): Promise<T> {
    const next = (this.busy.get(shardId) ?? Promise.resolve()).then(work, work);
    const tail = next.catch(() => undefined);
    this.busy.set(shardId, tail);
    void tail.then(() => this.busy.get(shardId) === tail && this.busy.delete(shardId));
    return next;
  }
}

/** One shard's records of one invocation, start to finish. */
export async function consumeShardBatch(
  context: LifecycleContext,
  batch: ShardBatch,
  guard: TimeoutGuard,
): Promise<ShardBatchResult> {
  const stats = emptyShardBatchStats(batch.shardId);
  // Records must not overtake those a stopped processRecords is still working on.
  const previousFinished = await context.consumers.unfinishedSettled(batch.shardId, guard.fired);
  const stream: LeaseStream = {
    streamName: streamNameFromArn(batch.eventSourceArn),
    keys: await context.leaseKeys.forStream(batch.eventSourceArn),
  };
  const read = await readLease(context, stream, batch.shardId);
  if (guard.expired || !previousFinished) return outOfTime(context, batch, read, stats);
  const { lease, verdict } = await waitOutHandoff(context, stream, batch.shardId, read, guard);
  if (verdict === 'inProgress') return awaitHandoff(context, batch, lease, stats);
  // Until a shard has its first checkpoint (no row, or a row KCL created and nobody
  // used), its parents must be finished first.
  const parentShardIds = isStartingPosition(lease.checkpoint.sequenceNumber)
    ? await finishParents(context, stream, batch.shardId, stats, guard, nowOf(batch))
    : undefined;
  // Decoded as delivered, replays skipped on the way.
  const records = new UserRecordStream(batch, context.deaggregate, lease.checkpoint);
  const session = new CheckpointSession({
    store: context.store,
    lease,
    owner: context.owner,
    parentShardIds,
    onWrite: (millis) => stats.checkpointWriteMs.push(millis),
  });

  let consumer: ShardConsumer | undefined;
  if (records.hasNext()) {
    consumer = context.consumers.get(batch.shardId);
    await initializeIfNew(consumer, lease);
    const outcome = await deliverRecords(context, consumer, records, session, guard, stats);
    await finishDelivery(context, consumer, outcome, records.lastTaken, session);
  }
  await createLeaseRowIfAbsent(context, session);
  session.close('the batch is finished');
  if (session.leaseLost) await loseLease(context, consumer ?? context.consumers.find(batch.shardId), batch.shardId, stats);

  const durable = session.leaseLost ? await winnerCheckpoint(context, session) : session.lease.checkpoint;
  return batchResult(context, batch, records, lease.checkpoint, durable, stats);
}

/**
 * Step: the response and the stats. Usually every record was delivered and the
 * durable checkpoint covers them all, and the stream's counts are the batch's; after
 * a failure, a stop or a lost lease the batch is decoded whole again to find the
 * first record above the durable checkpoint (that path can afford it).
 */
function batchResult(
  context: LifecycleContext,
  batch: ShardBatch,
  records: UserRecordStream | undefined,
  checkpoint: ExtendedSequenceNumber,
  durable: ExtendedSequenceNumber,
  stats: ShardBatchStats,
): ShardBatchResult {
  let failedSequenceNumber: string | undefined;
  let undecodable: UndecodableRecord | undefined;
  if (records !== undefined && coversEverything(records, checkpoint, durable)) {
    stats.kinesisRecords = records.kinesisRecords;
    stats.kinesisBytes = records.kinesisBytes;
    stats.userRecords = records.userRecords;
    stats.duplicatesSkipped = records.duplicatesSkipped;
    undecodable = records.undecodable;
    failedSequenceNumber = undecodable?.sequenceNumber;
  } else {
    // Corrupt aggregates the stream decoded were warned about already.
    const decoded = decodeShardBatch(batch, context.deaggregate, records?.position ?? 0);
    stats.kinesisRecords = decoded.kinesisRecords;
    stats.kinesisBytes = decoded.kinesisBytes;
    stats.userRecords = decoded.userRecords.length;
    stats.duplicatesSkipped = decoded.userRecords.length - recordsAfter(decoded.userRecords, checkpoint).length;
    undecodable = decoded.undecodable;
    failedSequenceNumber = firstFailure(decoded.userRecords, undecodable, durable, stats);
  }
  if (undecodable) {
    context.logger.error(`${undecodable.reason}; it and the records after it are reported failed`, {
      shardId: batch.shardId,
      sequenceNumber: undecodable.sequenceNumber,
    });
  }
  return {
    failedSequenceNumber,
    checkpoint: durable,
    stats,
    firstSequenceNumber: batch.firstSequenceNumber,
    lastSequenceNumber: batch.lastSequenceNumber,
  };
}

/**
 * Step (timeout guard): the guard fired before this shard's turn (an earlier shard of
 * the invocation, or a margin as long as the time left). Nothing is started, written
 * or delivered; Lambda delivers again from the first record above the checkpoint.
 */
function outOfTime(context: LifecycleContext, batch: ShardBatch, lease: Lease, stats: ShardBatchStats): ShardBatchResult {
  context.logger.warn('Timeout guard: no time left to start this shard; nothing delivered', { shardId: batch.shardId });
  return batchResult(context, batch, undefined, lease.checkpoint, lease.checkpoint, stats);
}

/**
 * True when no user record of the batch lies above `durable`: all were decoded, the
 * ones skipped lie at or below the checkpoint, and the ones delivered came in order
 * up to a record `durable` covers.
 */
function coversEverything(records: UserRecordStream, checkpoint: ExtendedSequenceNumber, durable: ExtendedSequenceNumber): boolean {
  if (!records.finished || compareExtended(durable, checkpoint) < 0) return false;
  const last = records.lastTaken;
  return last === undefined || (records.inOrder && compareExtended(durable, last) >= 0);
}

/**
 * Step (KCL 3 graceful handoff still in progress after waiting): live KCL workers are
 * moving this lease between them. Like KCL's new owner, the runtime waits for the old
 * owner's checkpoint: nothing is delivered or checkpointed, this container's processor
 * (if any) loses the lease, and Lambda delivers the batch again from the durable checkpoint.
 */
async function awaitHandoff(context: LifecycleContext, batch: ShardBatch, lease: Lease, stats: ShardBatchStats): Promise<ShardBatchResult> {
  context.logger.warn(
    `Lease ${lease.leaseKey} is being handed over between KCL workers (from ${lease.checkpointOwner} to ` +
      `${lease.leaseOwner ?? 'nobody'}): KCL workers still run on this table; nothing delivered, the batch is retried`,
    { shardId: batch.shardId },
  );
  await loseLease(context, context.consumers.find(batch.shardId), batch.shardId, stats);
  return batchResult(context, batch, undefined, lease.checkpoint, lease.checkpoint, stats);
}

/**
 * Step (KCL 3 graceful handoff): a handoff usually completes within seconds, and each
 * batch failed for one spends one of the mapping's retries. So the lease is read again
 * every `pollMs`, for at most `maxWaitMs` and never past the timeout guard, until the
 * handoff completes or goes stale. Each new handoff state is noted on the row, so that
 * staleness is judged from the row and not from this container's memory.
 */
async function waitOutHandoff(
  context: LifecycleContext,
  stream: LeaseStream,
  shardId: string,
  first: Lease,
  guard: TimeoutGuard,
): Promise<{ readonly lease: Lease; readonly verdict: HandoffVerdict }> {
  const policy = context.handoffs;
  const waitUntil = Date.now() + policy.maxWaitMs;
  let lease = first;
  for (;;) {
    const verdict = await judgeHandoff(context, lease, shardId);
    const left = waitUntil - Date.now();
    if (verdict !== 'inProgress' || left <= 0 || guard.expired) return { lease, verdict };
    if (!(await pause(Math.min(policy.pollMs, left), guard))) return { lease, verdict };
    lease = await readLease(context, stream, shardId);
  }
}

/** Judges a lease's handoff state and notes a state not seen before on the row. */
async function judgeHandoff(context: LifecycleContext, lease: Lease, shardId: string): Promise<HandoffVerdict> {
  const { verdict, note } = context.handoffs.judge(lease);
  if (note !== undefined) {
    // A lost condition means the row moved on: the next read judges it afresh.
    await context.store.noteHandoff(lease, note).catch((error: unknown) => {
      if (!(error instanceof CheckpointError)) throw error;
      context.logger.warn('Noting a KCL 3 handoff on its lease row failed; the next batch tries again', { shardId, error });
    });
  }
  return verdict;
}

/** Waits `ms`; false if the timeout guard fires first. */
function pause(ms: number, guard: TimeoutGuard): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    void guard.fired.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Step: the one consistent read of the batch. */
async function readLease(context: LifecycleContext, stream: LeaseStream, shardId: string): Promise<Lease> {
  return (await context.store.getLease(stream.keys.leaseKey(shardId))) ?? stream.keys.newLease(shardId);
}

/** The records after a position; the same array when all are (the usual, replay-free batch). */
function recordsAfter(records: readonly KinesisUserRecord[], position: ExtendedSequenceNumber): readonly KinesisUserRecord[] {
  const after = isAfter(position);
  return records.every(after) ? records : records.filter(after);
}

/** Step: `initialize` once per consumer. */
async function initializeIfNew(consumer: ShardConsumer, lease: Lease): Promise<void> {
  if (consumer.state !== 'new') return;
  await consumer.processor.initialize({ shardId: consumer.shardId, extendedSequenceNumber: lease.checkpoint });
  consumer.state = 'initialized';
}

type DeliveryOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'notStarted' };

/**
 * Step: processRecords (or the per-record entry point), unless the timeout guard
 * fires first. The records are decoded here: as they are taken, or all at once for
 * processRecords, which gets an array.
 */
async function deliverRecords(
  context: LifecycleContext,
  consumer: ShardConsumer,
  records: UserRecordStream,
  session: CheckpointSession,
  guard: TimeoutGuard,
  stats: ShardBatchStats,
): Promise<DeliveryOutcome> {
  // The guard may have fired while parents were ended or the processor initialized.
  if (guard.expired) return { kind: 'notStarted' };
  const processor = consumer.processor;
  const processRecordsView = session.view();
  const checkpointer = processRecordsView.checkpointer;
  let deliver: () => void | Promise<void>;
  if (isStreaming(processor)) {
    stats.millisBehindLatest = Math.max(0, Date.now() - records.lastArrivalMillis);
    // What may be checkpointed grows as records are taken.
    session.setScope({ kind: 'stream', stream: records });
    deliver = () => processor[processRecordStream]({ shardId: consumer.shardId, records, checkpointer });
  } else {
    const batch = records.rest();
    const last = batch[batch.length - 1];
    const millisBehindLatest = Math.max(0, Date.now() - last.approximateArrivalTimestamp.getTime());
    stats.millisBehindLatest = millisBehindLatest;
    session.setScope({ kind: 'records', largestDelivered: last });
    deliver = () => processor.processRecords({ shardId: consumer.shardId, records: batch, checkpointer, millisBehindLatest });
  }
  const started = Date.now();
  const processing: Promise<DeliveryOutcome> = Promise.resolve()
    .then(deliver)
    .then(
      () => ({ kind: 'completed' }) as const,
      (error: unknown) => ({ kind: 'failed', error }) as const,
    );
  const first = await Promise.race([processing, guard.fired]);
  if (first !== 'timeout') {
    stats.processRecordsMs = Date.now() - started;
    // Its checkpoints end with it: a late one could otherwise race the end of the batch.
    processRecordsView.close('processRecords has returned');
    return first;
  }
  await requestShutdown(context, consumer, session);
  // Asked to stop, processRecords may still finish the record in hand: give it until
  // the last moment to answer, so that it does not go on after the response (where
  // nothing can keep it from overtaking the records Lambda delivers next).
  const returned = await Promise.race([processing.then(() => true), guard.lastCall.then(() => false)]);
  // From here on its checkpoints are refused, so the table never moves past what the
  // response reports as done.
  processRecordsView.close('the invocation is about to time out (shutdownRequested has returned)');
  await session.settle();
  session.close('the invocation is about to time out (shutdownRequested)');
  // It cannot be cancelled: the shard's next batch in this container waits for it.
  if (!returned) context.consumers.leaveRunning(consumer.shardId, processing);
  stats.processRecordsMs = Date.now() - started;
  return { kind: 'stopped' };
}

/** Step (timeout guard): let the processor checkpoint what it finished, then stop. */
async function requestShutdown(context: LifecycleContext, consumer: ShardConsumer, session: CheckpointSession): Promise<void> {
  // processRecords has not returned, so "everything delivered" is not "everything
  // done": checkpoint() without a position would lose the records still in hand.
  const shutdownView = session.view({
    positionRequired:
      'checkpoint() without a position is refused in shutdownRequested: processRecords is still running, ' +
      'so pass the last record it finished',
  });
  try {
    await consumer.processor.shutdownRequested?.({ checkpointer: shutdownView.checkpointer });
  } catch (error) {
    // Failing the invocation here would make Lambda replay the whole batch; the
    // response from the durable checkpoint keeps what was checkpointed.
    context.logger.error('shutdownRequested failed; reporting the records above the checkpoint as failed', {
      shardId: consumer.shardId,
      error,
    });
  } finally {
    shutdownView.close('shutdownRequested has returned');
  }
}

/** Step: the end-of-batch checkpoint (auto mode), and what happens to the consumer. */
async function finishDelivery(
  context: LifecycleContext,
  consumer: ShardConsumer,
  outcome: DeliveryOutcome,
  last: KinesisUserRecord | undefined,
  session: CheckpointSession,
): Promise<void> {
  await session.settle();
  if (outcome.kind === 'notStarted') {
    context.logger.warn('Timeout guard: no time left to deliver; nothing delivered', { shardId: consumer.shardId });
    return;
  }
  if (outcome.kind === 'stopped') {
    context.consumers.drop(consumer);
    context.logger.warn('Timeout guard: stopped delivering and requested shutdown', { shardId: consumer.shardId });
    return;
  }
  if (outcome.kind === 'failed') {
    // A processor that cannot go on (a MultiLang child that died) is replaced for the next batch.
    if (outcome.error instanceof ProcessorUnusableError) context.consumers.drop(consumer);
    context.logger.error('processRecords failed; reporting the records above the checkpoint as failed', {
      shardId: consumer.shardId,
      error: outcome.error,
    });
    return;
  }
  if (context.checkpointing !== 'auto' || session.leaseLost || last === undefined) return;
  try {
    await session.write(last);
  } catch (error) {
    // Covered by the response: everything above the durable checkpoint is reported failed.
    if (!(error instanceof CheckpointError)) throw error;
    context.logger.error('The end-of-batch checkpoint failed', { shardId: consumer.shardId, error });
  }
}

/** Step: the row exists after a shard's first batch, even if nothing was checkpointed. */
async function createLeaseRowIfAbsent(context: LifecycleContext, session: CheckpointSession): Promise<void> {
  // After a timeout-guard stop the session is closed: the row comes with the next batch.
  if (leaseExists(session.lease) || session.leaseLost || session.closed) return;
  try {
    await session.write(session.lease.checkpoint, { evenIfUnchanged: true });
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    context.logger.warn('Creating the lease row failed; the next batch tries again', {
      shardId: session.lease.leaseKey,
      error,
    });
  }
}

/**
 * Step: a conditional write showed that another writer holds the shard. The shard's
 * processor in this container (if it has one, even one just shut down by the timeout
 * guard) gets leaseLost and is dropped; the next batch starts a fresh one.
 */
async function loseLease(
  context: LifecycleContext,
  consumer: ShardConsumer | undefined,
  shardId: string,
  stats: ShardBatchStats,
): Promise<void> {
  stats.leaseLost += 1;
  context.logger.warn('Lease lost: another writer checkpointed this shard', { shardId });
  if (!consumer) return;
  context.consumers.drop(consumer);
  if (consumer.state === 'initialized') await consumer.processor.leaseLost?.({});
}

/** After a lost race, what counts is the winner's checkpoint, never ours. */
async function winnerCheckpoint(context: LifecycleContext, session: CheckpointSession): Promise<ExtendedSequenceNumber> {
  // No row at all (deleted by hand): nothing is durable.
  const winner = await context.store.getLease(session.lease.leaseKey);
  return (winner ?? newLease(session.lease.leaseKey)).checkpoint;
}

/** Step: the first record above the durable checkpoint is where Lambda must resume. */
function firstFailure(
  userRecords: readonly KinesisUserRecord[],
  undecodable: UndecodableRecord | undefined,
  durable: ExtendedSequenceNumber,
  stats: ShardBatchStats,
): string | undefined {
  const index = userRecords.findIndex(isAfter(durable));
  if (index >= 0) {
    stats.recordsFailed = userRecords.length - index;
    return userRecords[index].sequenceNumber;
  }
  return undecodable?.sequenceNumber;
}

/**
 * Parent before child: on a shard's first batch, every parent must be finished.
 * A drained parent is ended here (shardEnded, SHARD_END). Returns the parents,
 * recorded on the child's row.
 */
async function finishParents(
  context: LifecycleContext,
  stream: LeaseStream,
  shardId: string,
  stats: ShardBatchStats,
  guard: TimeoutGuard,
  now: number,
): Promise<readonly string[]> {
  const parents = await context.lineage().parentsOf(stream.streamName, shardId);
  for (const parentShardId of parents) {
    await context.consumers.exclusive(parentShardId, () => finishParent(context, stream, shardId, parentShardId, stats, guard, now));
  }
  return parents;
}

/** Now, as far as the batch tells: never before its newest record arrived (the stream's clock). */
function nowOf(batch: ShardBatch): number {
  const arrival = batch.records[batch.records.length - 1]?.kinesis.approximateArrivalTimestamp;
  return Math.max(Date.now(), typeof arrival === 'number' ? arrival * 1000 : 0);
}

async function finishParent(
  context: LifecycleContext,
  stream: LeaseStream,
  childShardId: string,
  parentShardId: string,
  stats: ShardBatchStats,
  guard: TimeoutGuard,
  now: number,
): Promise<void> {
  if (!(await context.consumers.unfinishedSettled(parentShardId, guard.fired))) {
    throw new ParentShardNotFinishedError(childShardId, parentShardId, 'is still processing a batch the timeout guard stopped');
  }
  const lease = await readLease(context, stream, parentShardId);
  if (lease.checkpoint.sequenceNumber === SHARD_END) return;
  if ((await judgeHandoff(context, lease, parentShardId)) === 'inProgress') {
    throw new ParentShardNotFinishedError(
      childShardId,
      parentShardId,
      `is being handed over between KCL workers (from ${lease.checkpointOwner} to ${lease.leaseOwner ?? 'nobody'}): KCL workers still run on this table`,
    );
  }
  // A parent nothing was ever checkpointed in (it stayed empty) had no first batch of
  // its own: the same rule applies to its parents now, before it can end.
  const grandparents = isStartingPosition(lease.checkpoint.sequenceNumber)
    ? await finishParents(context, stream, parentShardId, stats, guard, now)
    : undefined;
  const neverCheckpointed = isStartingPosition(lease.checkpoint.sequenceNumber);
  if (neverCheckpointed && context.startingPosition.position === 'LATEST') {
    // Lambda delivers a parent before its children, and it delivered nothing of this
    // one: all it holds predates the mapping, which started at LATEST. It is drained.
    return endShard(context, childShardId, parentShardId, lease, grandparents, stats);
  }
  const from = neverCheckpointed && context.startingPosition.position === 'AT_TIMESTAMP' ? context.startingPosition.timestamp : undefined;
  let read = await context.lineage().readFrom(stream.streamName, parentShardId, lease.checkpoint.sequenceNumber, from);
  if (read.expired) {
    context.logger.warn(`Parent shard ${parentShardId} no longer exists (past retention); not waiting for it`, {
      shardId: childShardId,
    });
    return;
  }
  // Lambda discards records past the record age without delivering them (a parent's
  // tail too): those can never be processed and must not block the child for ever.
  const agedOutBefore = context.maxRecordAgeMs === undefined ? undefined : now - context.maxRecordAgeMs - LONGEST_FUNCTION_TIMEOUT_MS;
  const deliverable = (records: ShardLineageRead['records']) =>
    unprocessedRecords(context, parentShardId, records, lease.checkpoint).filter(
      (record) => agedOutBefore === undefined || record.approximateArrivalTimestamp.getTime() >= agedOutBefore,
    );
  let unprocessed = deliverable(read.records);
  // A long aged-out tail spans pages: read on past it (a bounded number of times).
  for (let page = 0; page < 10 && unprocessed.length === 0 && !read.closed && read.records.length > 0; page++) {
    read = await context.lineage().readFrom(stream.streamName, parentShardId, read.records[read.records.length - 1].sequenceNumber);
    unprocessed = deliverable(read.records);
  }
  if (unprocessed.length > 0) {
    throw new ParentShardNotFinishedError(
      childShardId,
      parentShardId,
      `has unprocessed records after its checkpoint ${formatExtended(lease.checkpoint)} ` +
        `(next: ${formatExtended(unprocessed[0])}); the child waits until the parent is drained`,
    );
  }
  if (!read.closed) {
    throw new ParentShardNotFinishedError(childShardId, parentShardId, 'is not closed yet (no end of shard seen)');
  }
  await endShard(context, childShardId, parentShardId, lease, grandparents, stats);
}

/** The records of a parent read that its checkpoint does not cover. */
function unprocessedRecords(
  context: LifecycleContext,
  shardId: string,
  records: ShardLineageRead['records'],
  checkpoint: ExtendedSequenceNumber,
): readonly KinesisUserRecord[] {
  const userRecords: KinesisUserRecord[] = [];
  for (const record of records) {
    const data = Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength);
    const arrival = record.approximateArrivalTimestamp ?? new Date(0);
    // No warning here: this only looks at records whose delivery already warned.
    appendUserRecords(userRecords, shardId, record.sequenceNumber, record.partitionKey, data, arrival, context.deaggregate);
  }
  return recordsAfter(userRecords, checkpoint);
}

type ShardLineageRead = Awaited<ReturnType<ShardLineage['readFrom']>>;

/** Step: a drained parent's processor gets shardEnded and must checkpoint SHARD_END. */
async function endShard(
  context: LifecycleContext,
  childShardId: string,
  shardId: string,
  lease: Lease,
  parentShardIds: readonly string[] | undefined,
  stats: ShardBatchStats,
): Promise<void> {
  const consumer = context.consumers.get(shardId);
  const session = new CheckpointSession({
    store: context.store,
    lease,
    owner: context.owner,
    parentShardIds,
    onWrite: (millis) => stats.checkpointWriteMs.push(millis),
  });
  session.setScope({ kind: 'shardEnd' });
  const failure = await callShardEnded(consumer, lease, session);
  context.consumers.drop(consumer);
  // A lost write comes first: the processor must hear leaseLost even if it rethrew the ShutdownException.
  if (session.leaseLost) return loseEndingLease(context, consumer, childShardId, shardId, lease.leaseKey, stats);
  if (failure) {
    throw new ParentShardNotFinishedError(childShardId, shardId, `failed in ${failure.step}: ${describe(failure.error)}`);
  }
  if (session.lease.checkpoint.sequenceNumber !== SHARD_END) {
    throw new ParentShardNotFinishedError(
      childShardId,
      shardId,
      'is drained but its processor did not checkpoint in shardEnded (call checkpointer.checkpoint() there)',
    );
  }
  stats.shardEnded += 1;
  context.logger.info('Shard ended', { shardId, childShardId });
}

/** initialize (a processor new to this container) and shardEnded; what threw, once the session is closed. */
async function callShardEnded(
  consumer: ShardConsumer,
  lease: Lease,
  session: CheckpointSession,
): Promise<{ readonly step: 'initialize' | 'shardEnded'; readonly error: unknown } | undefined> {
  try {
    await initializeIfNew(consumer, lease);
  } catch (error) {
    session.close('initialize failed');
    return { step: 'initialize', error };
  }
  try {
    await consumer.processor.shardEnded({ checkpointer: session.checkpointer });
    return undefined;
  } catch (error) {
    return { step: 'shardEnded', error };
  } finally {
    await session.settle();
    session.close('shardEnded has returned');
  }
}

/**
 * Step: the parent's SHARD_END write lost its race. If the winner ended the shard
 * (another container handling the other child), the child may go on; otherwise
 * another worker still holds the parent and the child waits.
 */
async function loseEndingLease(
  context: LifecycleContext,
  consumer: ShardConsumer,
  childShardId: string,
  shardId: string,
  leaseKey: string,
  stats: ShardBatchStats,
): Promise<void> {
  stats.leaseLost += 1;
  if (consumer.state === 'initialized') await consumer.processor.leaseLost?.({});
  const winner = await context.store.getLease(leaseKey);
  if (winner?.checkpoint.sequenceNumber === SHARD_END) {
    context.logger.info('Shard ended by another writer', { shardId, childShardId });
    return;
  }
  const held = winner ? `at ${formatExtended(winner.checkpoint)} by ${winner.leaseOwner ?? 'an unnamed owner'}` : 'without a row';
  throw new ParentShardNotFinishedError(childShardId, shardId, `lost its lease while ending: another writer holds it ${held}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
