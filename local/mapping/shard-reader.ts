import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';
import type { StartingPosition } from './mapping-settings';

/** Where a shard's reading begins. */
export interface ReadStart {
  readonly position: StartingPosition;
  readonly timestamp?: Date;
}

/**
 * Reads one shard ahead of delivery: `buffer` holds every record after the
 * mapping's own checkpoint that has been read but not yet finished, so a retry
 * re-delivers from memory. Reaching the end of a closed shard (GetRecords gives
 * no next iterator) sets `endOfShard`.
 */
export class ShardReader {
  readonly buffer: KinesisRecord[] = [];
  private iterator: string | undefined;
  private lastReadSequenceNumber: string | undefined;
  private ended = false;
  private lastReadWasEmpty = false;
  private restartSequenceNumber: string | undefined;

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
    readonly shardId: string,
    private readonly start: ReadStart,
  ) {}

  /** The shard is closed and every record in it has been read. */
  get endOfShard(): boolean {
    return this.ended;
  }

  /** The last GetRecords returned nothing: the reader has caught up with the shard. */
  get caughtUp(): boolean {
    return this.lastReadWasEmpty;
  }

  /** Fixes the starting point now (LATEST and AT_TIMESTAMP mean "when the mapping started"). */
  async prepare(): Promise<void> {
    if (this.iterator === undefined && !this.ended) this.iterator = await this.newIterator();
  }

  /** Reads until the buffer holds `target` records, the shard has nothing more now, or it ended. Returns records read. */
  async fill(target: number): Promise<number> {
    let read = 0;
    while (!this.ended && this.buffer.length < target) {
      const records = await this.readOnce(Math.min(10_000, Math.max(target - this.buffer.length, 1)));
      read += records;
      if (records === 0) break;
    }
    return read;
  }

  /**
   * Forgets the buffer and reads again from `sequenceNumber` (inclusive): a replay
   * of records already delivered, as when Lambda's poller loses its position.
   */
  restartAt(sequenceNumber: string): void {
    this.buffer.length = 0;
    this.iterator = undefined;
    this.lastReadSequenceNumber = undefined;
    this.restartSequenceNumber = sequenceNumber;
    this.ended = false;
    this.lastReadWasEmpty = false;
  }

  /** Forgets the first `count` buffered records: they are done (processed or discarded). */
  drop(count: number): void {
    this.buffer.splice(0, count);
  }

  private async readOnce(limit: number): Promise<number> {
    if (this.iterator === undefined) this.iterator = await this.newIterator();
    let output;
    try {
      output = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: limit }));
    } catch (error) {
      if (!(error instanceof ExpiredIteratorException)) throw error;
      // Iterators live five minutes; resume right after the last record read.
      this.iterator = await this.newIterator();
      output = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: limit }));
    }
    const records = output.Records ?? [];
    this.buffer.push(...records);
    if (records.length > 0) this.lastReadSequenceNumber = records[records.length - 1].SequenceNumber;
    this.lastReadWasEmpty = records.length === 0;
    this.iterator = output.NextShardIterator ?? undefined;
    if (this.iterator === undefined) this.ended = true;
    return records.length;
  }

  private async newIterator(): Promise<string> {
    const input: GetShardIteratorCommandInput =
      this.lastReadSequenceNumber !== undefined
        ? {
            StreamName: this.streamName,
            ShardId: this.shardId,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            StartingSequenceNumber: this.lastReadSequenceNumber,
          }
        : this.restartSequenceNumber !== undefined
          ? {
              StreamName: this.streamName,
              ShardId: this.shardId,
              ShardIteratorType: 'AT_SEQUENCE_NUMBER',
              StartingSequenceNumber: this.restartSequenceNumber,
            }
          : {
            StreamName: this.streamName,
            ShardId: this.shardId,
            ShardIteratorType: this.start.position,
            Timestamp: this.start.position === 'AT_TIMESTAMP' ? this.start.timestamp : undefined,
          };
    const output = await this.kinesis.send(new GetShardIteratorCommand(input));
    if (!output.ShardIterator) throw new Error(`Kinesis returned no shard iterator for ${this.shardId}`);
    return output.ShardIterator;
  }
}
