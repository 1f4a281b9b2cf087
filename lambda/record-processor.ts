import type { ExtendedSequenceNumber } from './records/sequence-number';
import type { KinesisUserRecord } from './records/kinesis-user-record';

/** Records a position in the shard as done. Mirrors KCL's RecordProcessorCheckpointer. */
export interface Checkpointer {
  /** Checkpoint at the largest record delivered so far (SHARD_END in `shardEnded`). */
  checkpoint(): Promise<void>;
  /** Checkpoint at this user record (sequence and sub-sequence number). */
  checkpoint(record: Pick<KinesisUserRecord, 'sequenceNumber' | 'subSequenceNumber'>): Promise<void>;
  /** Checkpoint at a sequence number (sub-sequence 0 unless given). */
  checkpoint(sequenceNumber: string, subSequenceNumber?: number): Promise<void>;
}

export interface InitializationInput {
  readonly shardId: string;
  /** Where the shard's lease says processing resumes after (a sentinel for a new shard). */
  readonly extendedSequenceNumber: ExtendedSequenceNumber;
}

export interface ProcessRecordsInput {
  readonly shardId: string;
  readonly records: readonly KinesisUserRecord[];
  readonly checkpointer: Checkpointer;
  /** Estimated from the last record's approximate arrival time: Lambda does not pass the real value. */
  readonly millisBehindLatest: number;
}

export interface ShardEndedInput {
  /** `checkpoint()` here records SHARD_END; the child shards wait until it does. */
  readonly checkpointer: Checkpointer;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface LeaseLostInput {}

export interface ShutdownRequestedInput {
  readonly checkpointer: Checkpointer;
}

/** KCL's ShardRecordProcessor, camelCase, async allowed. */
export interface RecordProcessor {
  initialize(input: InitializationInput): void | Promise<void>;
  processRecords(input: ProcessRecordsInput): void | Promise<void>;
  shardEnded(input: ShardEndedInput): void | Promise<void>;
  leaseLost?(input: LeaseLostInput): void | Promise<void>;
  shutdownRequested?(input: ShutdownRequestedInput): void | Promise<void>;
}

export type RecordProcessorFactory = (shardId: string) => RecordProcessor;

/** The per-record handler of `withRecordHandler`. */
export type UserRecordHandler = (record: KinesisUserRecord) => void | Promise<void>;
