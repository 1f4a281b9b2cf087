import { KclConfigurationError } from './errors';
import { type KinesisBatchHandler, createKclHandler } from './lifecycle/kcl-engine';
import type { KinesisUserRecord } from './records/kinesis-user-record';
import type { KclOptions } from './options';
import type { Checkpointer, UserRecordHandler } from './record-processor';
import { type ProcessRecordStreamInput, type StreamingRecordProcessor, processRecordStream } from './lifecycle/shard-lifecycle';
import type { UserRecordSource } from './records/user-record-stream';

/** How long the per-record loop may run before it lets timers (the timeout guard) run. */
const YIELD_EVERY_MS = 10;
/** Records between clock reads while records are fast. */
const CLOCK_STRIDE = 16;

/**
 * A per-record handler on the same engine: records are handled one at a time in
 * order; the first failure stops the batch, everything before it is checkpointed,
 * and Lambda re-delivers from the failed record.
 */
export function withRecordHandler(handle: UserRecordHandler, options: KclOptions = {}): KinesisBatchHandler {
  if (typeof handle !== 'function') {
    throw new TypeError('withRecordHandler needs a function: (record) => void | Promise<void>');
  }
  if (options.checkpointing === 'manual') {
    throw new KclConfigurationError(
      "withRecordHandler checkpoints after each handled record by itself; checkpointing: 'manual' needs withKclProcessor",
    );
  }
  return createKclHandler(() => new RecordHandlerProcessor(handle), options);
}

/**
 * Adapts a per-record function to the processor lifecycle (exported for the benchmarks).
 * It takes records one at a time from the engine's stream, so a batch is decoded as
 * it is handled and never held whole.
 */
export class RecordHandlerProcessor implements StreamingRecordProcessor {
  private stopRequested = false;
  private running?: Promise<void>;

  constructor(private readonly handle: UserRecordHandler) {}

  initialize(): void {}

  [processRecordStream]({ records, checkpointer }: ProcessRecordStreamInput): Promise<void> {
    this.stopRequested = false;
    this.running = this.handleInOrder(records, checkpointer);
    return this.running;
  }

  /** The same over an array (a caller that runs this processor through processRecords). */
  processRecords({ records, checkpointer }: { records: readonly KinesisUserRecord[]; checkpointer: Checkpointer }): Promise<void> {
    let index = 0;
    return this[processRecordStream]({ shardId: '', records: { next: () => records[index++] }, checkpointer });
  }

  shardEnded({ checkpointer }: { checkpointer: Checkpointer }): Promise<void> {
    return checkpointer.checkpoint();
  }

  /** The timeout guard: finish the record in hand, checkpoint, stop. */
  async shutdownRequested(): Promise<void> {
    this.stopRequested = true;
    await this.running?.catch(() => undefined);
  }

  private async handleInOrder(records: UserRecordSource, checkpointer: Checkpointer): Promise<void> {
    let lastHandled: KinesisUserRecord | undefined;
    let yieldedAt = Date.now();
    let checkedAt = yieldedAt;
    let untilClock = 1;
    for (;;) {
      // A synchronous handler never gives the timeout guard's timer a turn: yield to
      // the event loop every few milliseconds of work so that it can fire. Reading the
      // clock costs about a tenth of a fast record, so while records are fast (the last
      // ones took under a millisecond together) it is read every CLOCK_STRIDE records,
      // and before every record once they are not.
      if (--untilClock === 0) {
        const now = Date.now();
        if (now - yieldedAt >= YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          yieldedAt = Date.now();
        }
        untilClock = now - checkedAt < 1 ? CLOCK_STRIDE : 1;
        checkedAt = now;
      }
      if (this.stopRequested) break;
      const record = records.next();
      if (record === undefined) break;
      try {
        // A synchronous handler does not pay for a promise per record.
        const result = this.handle(record);
        if (result !== undefined) await result;
      } catch (error) {
        await checkpointQuietly(checkpointer, lastHandled);
        throw error;
      }
      lastHandled = record;
    }
    // On success the engine writes the end-of-batch checkpoint itself (one write).
    if (this.stopRequested) await checkpointQuietly(checkpointer, lastHandled);
  }
}

/**
 * Checkpoints what was handled before a stop. If the write fails, the engine still
 * reports from the first record above the durable checkpoint, so nothing is lost.
 */
async function checkpointQuietly(checkpointer: Checkpointer, record: KinesisUserRecord | undefined): Promise<void> {
  if (!record) return;
  await checkpointer.checkpoint(record).catch(() => undefined);
}
