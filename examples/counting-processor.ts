import type { KinesisUserRecord, RecordProcessor, RecordProcessorFactory } from '../lambda';

/**
 * An example KCL-style processor: it counts the user records and bytes of its
 * shard, checkpoints explicitly every `checkpointEvery` records (the engine also
 * checkpoints at the end of each successful batch), and records SHARD_END when
 * its shard is drained after a reshard.
 */
export class CountingProcessor implements RecordProcessor {
  records = 0;
  bytes = 0;
  private shardId = '';
  /** The last record fully counted: what shutdownRequested may safely checkpoint. */
  private lastDone?: KinesisUserRecord;

  constructor(
    private readonly checkpointEvery = 500,
    private readonly onRecord?: (record: KinesisUserRecord) => void,
  ) {}

  initialize({ shardId }: { shardId: string }): void {
    this.shardId = shardId;
  }

  async processRecords({ records, checkpointer }: Parameters<RecordProcessor['processRecords']>[0]): Promise<void> {
    for (const [index, record] of records.entries()) {
      this.onRecord?.(record);
      this.records += 1;
      this.bytes += record.data.length;
      this.lastDone = record;
      if ((index + 1) % this.checkpointEvery === 0) await checkpointer.checkpoint(record);
    }
  }

  async shardEnded({ checkpointer }: Parameters<RecordProcessor['shardEnded']>[0]): Promise<void> {
    console.log(JSON.stringify({ message: 'shard ended', shardId: this.shardId, records: this.records, bytes: this.bytes }));
    await checkpointer.checkpoint();
  }

  leaseLost(): void {
    console.log(JSON.stringify({ message: 'lease lost', shardId: this.shardId }));
  }

  async shutdownRequested({ checkpointer }: Parameters<NonNullable<RecordProcessor['shutdownRequested']>>[0]): Promise<void> {
    // processRecords may still be running: checkpoint only what it has finished.
    if (this.lastDone) await checkpointer.checkpoint(this.lastDone);
  }
}

/** The factory `withKclProcessor` and the local runner (`--processor`) call, once per shard. */
export const createProcessor: RecordProcessorFactory = () => new CountingProcessor();
