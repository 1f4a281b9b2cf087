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
import type { KinesisStreamRecord } from 'aws-lambda';
import { type ShardBatchStats, emptyShardBatchStats } from './batch-metrics';
import { CheckpointSession } from './checkpointer';
import { deaggregate } from './deaggregate';
import { CheckpointError, InvalidKinesisEventError, ParentShardNotFinishedError } from './errors';
import type { KinesisUserRecord } from './kinesis-user-record';
import { decodeRecord, type ShardRecords } from './kinesis-event';
import { type Lease, type LeaseStore, leaseExists, newLease } from './lease';
import type { CheckpointingMode, KclLogger } from './options';
import type { RecordProcessor, RecordProcessorFactory } from './record-processor';
import { type ExtendedSequenceNumber, SHARD_END, compareExtended, formatExtended } from './sequence-number';
import type { ShardLineage } from './shard-lineage';
import { streamNameFromArn } from './stream-arn';
import type { TimeoutGuard } from './timeout-guard';

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

  constructor(private readonly factory: RecordProcessorFactory) {}

  get(shardId: string): ShardConsumer {
    let consumer = this.byShard.get(shardId);
    if (!consumer) {
      consumer = { shardId, processor: this.factory(shardId), state: 'new' };
      this.byShard.set(shardId, consumer);
    }
    return consumer;
  }

  /** Forget a consumer that left the `initialized` state. */
  drop(consumer: ShardConsumer): void {
    if (this.byShard.get(consumer.shardId) === consumer) this.byShard.delete(consumer.shardId);
  }

  has(shardId: string): boolean {
    return this.byShard.has(shardId);
  }
}

/** One shard's records of one invocation, start to finish. */
export async function consumeShardBatch(
  context: LifecycleContext,
  batch: ShardRecords,
  guard: TimeoutGuard,
): Promise<ShardBatchResult> {
  const stats = emptyShardBatchStats(batch.shardId);
  const lease = await readLease(context, batch.shardId);
  const parentShardIds = leaseExists(lease) ? undefined : await finishParents(context, batch, stats);
  const decoded = decodeUserRecords(context, batch, stats);
  const pending = skipReplays(decoded.userRecords, lease.checkpoint, stats);
  const session = new CheckpointSession({
    store: context.store,
    lease,
    owner: context.owner,
    parentShardIds,
    onWrite: (millis) => stats.checkpointWriteMs.push(millis),
  });

  if (pending.length > 0) {
    const consumer = context.consumers.get(batch.shardId);
    await initializeIfNew(consumer, lease);
    const outcome = await deliverRecords(consumer, pending, session, guard, stats);
    await finishDelivery(context, consumer, outcome, pending, session);
    if (session.leaseLost) await loseLease(context, consumer, stats);
  }
  await createLeaseRowIfAbsent(context, session);
  session.close('the batch is finished');

  const durable = session.leaseLost ? await winnerCheckpoint(context, session) : session.lease.checkpoint;
  const failedSequenceNumber = firstFailure(decoded, durable, stats);
  return {
    failedSequenceNumber,
    checkpoint: durable,
    stats,
    firstSequenceNumber: batch.records[0]?.kinesis.sequenceNumber,
    lastSequenceNumber: batch.records[batch.records.length - 1]?.kinesis.sequenceNumber,
  };
}

/** Step: the one consistent read of the batch. */
async function readLease(context: LifecycleContext, shardId: string): Promise<Lease> {
  return (await context.store.getLease(shardId)) ?? newLease(shardId);
}

interface DecodedBatch {
  readonly userRecords: readonly KinesisUserRecord[];
  /** The record that could not be decoded; it and everything after it stay undelivered. */
  readonly undecodable?: KinesisStreamRecord;
}

/** Step: base64 and KPL. A record that cannot be decoded stops the batch there, unlost. */
function decodeUserRecords(context: LifecycleContext, batch: ShardRecords, stats: ShardBatchStats): DecodedBatch {
  const userRecords: KinesisUserRecord[] = [];
  const warn = (message: string) => context.logger.warn(message, { shardId: batch.shardId });
  for (const record of batch.records) {
    let input;
    try {
      input = decodeRecord(batch.shardId, record);
    } catch (error) {
      if (!(error instanceof InvalidKinesisEventError)) throw error;
      context.logger.error(`${error.message}; it and the records after it are reported failed`, {
        shardId: batch.shardId,
        sequenceNumber: record.kinesis.sequenceNumber,
      });
      return { userRecords, undecodable: record };
    }
    stats.kinesisRecords += 1;
    stats.kinesisBytes += input.data.length;
    if (context.deaggregate) {
      for (const userRecord of deaggregate(input, warn)) userRecords.push(userRecord);
    } else {
      userRecords.push({ ...input, subSequenceNumber: 0, aggregated: false });
    }
  }
  return { userRecords };
}

/** Step: drop what the checkpoint already covers (a replay), so nothing is delivered twice. */
function skipReplays(
  records: readonly KinesisUserRecord[],
  checkpoint: ExtendedSequenceNumber,
  stats: ShardBatchStats,
): KinesisUserRecord[] {
  const pending = records.filter((record) => compareExtended(record, checkpoint) > 0);
  stats.userRecords = records.length;
  stats.duplicatesSkipped = records.length - pending.length;
  return pending;
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
  | { readonly kind: 'stopped' };

/** Step: processRecords, unless the timeout guard fires first. */
async function deliverRecords(
  consumer: ShardConsumer,
  records: readonly KinesisUserRecord[],
  session: CheckpointSession,
  guard: TimeoutGuard,
  stats: ShardBatchStats,
): Promise<DeliveryOutcome> {
  const last = records[records.length - 1];
  session.setScope({ kind: 'records', largestDelivered: last });
  const started = Date.now();
  const processing: Promise<DeliveryOutcome> = Promise.resolve()
    .then(() =>
      consumer.processor.processRecords({
        shardId: consumer.shardId,
        records,
        checkpointer: session.checkpointer,
        millisBehindLatest: Math.max(0, Date.now() - last.approximateArrivalTimestamp.getTime()),
      }),
    )
    .then(
      () => ({ kind: 'completed' }) as const,
      (error: unknown) => ({ kind: 'failed', error }) as const,
    );
  const first = await Promise.race([processing, guard.fired]);
  if (first !== 'timeout') {
    stats.processRecordsMs = Date.now() - started;
    return first;
  }
  await requestShutdown(consumer, session);
  stats.processRecordsMs = Date.now() - started;
  return { kind: 'stopped' };
}

/** Step (timeout guard): let the processor checkpoint what it finished, then stop. */
async function requestShutdown(consumer: ShardConsumer, session: CheckpointSession): Promise<void> {
  try {
    await consumer.processor.shutdownRequested?.({ checkpointer: session.checkpointer });
  } finally {
    // processRecords may still be running; from here on its checkpoints are refused
    // so the table never moves past what the response reports as done.
    await session.settle();
    session.close('the invocation is about to time out (shutdownRequested)');
  }
}

/** Step: the end-of-batch checkpoint (auto mode), and what happens to the consumer. */
async function finishDelivery(
  context: LifecycleContext,
  consumer: ShardConsumer,
  outcome: DeliveryOutcome,
  pending: readonly KinesisUserRecord[],
  session: CheckpointSession,
): Promise<void> {
  await session.settle();
  if (outcome.kind === 'stopped') {
    context.consumers.drop(consumer);
    context.logger.warn('Timeout guard: stopped delivering and requested shutdown', { shardId: consumer.shardId });
    return;
  }
  if (outcome.kind === 'failed') {
    context.logger.error('processRecords failed; reporting the records above the checkpoint as failed', {
      shardId: consumer.shardId,
      error: outcome.error,
    });
    return;
  }
  if (context.checkpointing !== 'auto' || session.leaseLost) return;
  const last = pending[pending.length - 1];
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
  if (leaseExists(session.lease) || session.leaseLost) return;
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

/** Step: another writer holds the shard. */
async function loseLease(context: LifecycleContext, consumer: ShardConsumer, stats: ShardBatchStats): Promise<void> {
  stats.leaseLost += 1;
  context.consumers.drop(consumer);
  context.logger.warn('Lease lost: another writer checkpointed this shard', { shardId: consumer.shardId });
  await consumer.processor.leaseLost?.({});
}

/** After a lost race, what counts is the winner's checkpoint, never ours. */
async function winnerCheckpoint(context: LifecycleContext, session: CheckpointSession): Promise<ExtendedSequenceNumber> {
  const winner = await context.store.getLease(session.lease.leaseKey);
  return (winner ?? session.lease).checkpoint;
}

/** Step: the first record above the durable checkpoint is where Lambda must resume. */
function firstFailure(
  decoded: DecodedBatch,
  durable: ExtendedSequenceNumber,
  stats: ShardBatchStats,
): string | undefined {
  const index = decoded.userRecords.findIndex((record) => compareExtended(record, durable) > 0);
  if (index >= 0) {
    stats.recordsFailed = decoded.userRecords.length - index;
    return decoded.userRecords[index].sequenceNumber;
  }
  return decoded.undecodable?.kinesis.sequenceNumber;
}

/**
 * Parent before child: on a shard's first batch, every parent must be finished.
 * A drained parent is ended here (shardEnded, SHARD_END). Returns the parents,
 * recorded on the child's row.
 */
async function finishParents(
  context: LifecycleContext,
  batch: ShardRecords,
  stats: ShardBatchStats,
): Promise<readonly string[]> {
  const streamName = streamNameFromArn(batch.eventSourceArn);
  const parents = await context.lineage().parentsOf(streamName, batch.shardId);
  for (const parentShardId of parents) {
    await finishParent(context, streamName, batch.shardId, parentShardId, stats);
  }
  return parents;
}

async function finishParent(
  context: LifecycleContext,
  streamName: string,
  childShardId: string,
  parentShardId: string,
  stats: ShardBatchStats,
): Promise<void> {
  const lease = await readLease(context, parentShardId);
  if (lease.checkpoint.sequenceNumber === SHARD_END) return;
  const read = await context.lineage().readFrom(streamName, parentShardId, lease.checkpoint.sequenceNumber);
  if (read.expired) {
    context.logger.warn(`Parent shard ${parentShardId} no longer exists (past retention); not waiting for it`, {
      shardId: childShardId,
    });
    return;
  }
  const unprocessed = unprocessedRecords(context, parentShardId, read.records, lease.checkpoint);
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
  await endShard(context, childShardId, parentShardId, lease, stats);
}

/** The records of a parent read that its checkpoint does not cover. */
function unprocessedRecords(
  context: LifecycleContext,
  shardId: string,
  records: ShardLineageRead['records'],
  checkpoint: ExtendedSequenceNumber,
): KinesisUserRecord[] {
  const userRecords: KinesisUserRecord[] = [];
  for (const record of records) {
    const input = {
      shardId,
      sequenceNumber: record.sequenceNumber,
      partitionKey: record.partitionKey,
      data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength),
      approximateArrivalTimestamp: record.approximateArrivalTimestamp ?? new Date(0),
    };
    if (context.deaggregate) userRecords.push(...deaggregate(input));
    else userRecords.push({ ...input, subSequenceNumber: 0, aggregated: false });
  }
  return userRecords.filter((record) => compareExtended(record, checkpoint) > 0);
}

type ShardLineageRead = Awaited<ReturnType<ShardLineage['readFrom']>>;

/** Step: a drained parent's processor gets shardEnded and must checkpoint SHARD_END. */
async function endShard(
  context: LifecycleContext,
  childShardId: string,
  shardId: string,
  lease: Lease,
  stats: ShardBatchStats,
): Promise<void> {
  const consumer = context.consumers.get(shardId);
  await initializeIfNew(consumer, lease);
  const session = new CheckpointSession({
    store: context.store,
    lease,
    owner: context.owner,
    onWrite: (millis) => stats.checkpointWriteMs.push(millis),
  });
  session.setScope({ kind: 'shardEnd' });
  try {
    await consumer.processor.shardEnded({ checkpointer: session.checkpointer });
  } catch (error) {
    throw new ParentShardNotFinishedError(childShardId, shardId, `failed in shardEnded: ${describe(error)}`);
  } finally {
    await session.settle();
    session.close('shardEnded has returned');
    context.consumers.drop(consumer);
  }
  if (session.leaseLost) {
    await consumer.processor.leaseLost?.({});
    stats.leaseLost += 1;
    throw new ParentShardNotFinishedError(childShardId, shardId, 'lost its lease while ending');
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

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
