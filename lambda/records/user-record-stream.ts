import { deaggregate, isAggregated } from './deaggregate';
import type { KinesisUserRecord } from './kinesis-user-record';
import type { KinesisStreamRecord } from 'aws-lambda';
import type { ShardBatch } from './kinesis-event';
import { type ExtendedSequenceNumber, isAfter, isNumericAfter } from './sequence-number';

/** Where user records come from, one at a time: `undefined` when there are no more. */
export interface UserRecordSource {
  next(): KinesisUserRecord | undefined;
}

/** Why decoding stopped early: the first record whose data is not valid base64. */
export interface UndecodableRecord {
  readonly sequenceNumber: string;
  readonly reason: string;
}

/**
 * The user records of one shard batch above a checkpoint, decoded one at a time as
 * they are taken: base64, KPL expansion and the replay check happen in one pass,
 * and a record nobody takes is never decoded. What was decoded is counted for the
 * batch's stats. A record whose data is not valid base64 ends the stream: it and the
 * records after it stay undelivered.
 */
export class UserRecordStream implements UserRecordSource {
  /** Kinesis records decoded, and their data bytes. */
  kinesisRecords = 0;
  kinesisBytes = 0;
  /** User records decoded (replays included), and the replays among them. */
  userRecords = 0;
  duplicatesSkipped = 0;
  undecodable?: UndecodableRecord;
  /** The last user record handed on. */
  lastTaken?: KinesisUserRecord;
  /** False once a record handed on was not after the one before it (Lambda never sends that). */
  inOrder = true;

  private index = 0;
  private expanded?: KinesisUserRecord[];
  private expandedIndex = 0;
  private peeked?: KinesisUserRecord;
  private readonly afterCheckpoint: (record: ExtendedSequenceNumber) => boolean;
  /** Each user record lies after the one before it (see ShardBatch.ascending). */
  private readonly ascending: boolean;

  constructor(
    private readonly batch: ShardBatch,
    private readonly expandAggregates: boolean,
    checkpoint: ExtendedSequenceNumber,
    /** Corrupt aggregates before this Kinesis record index were already warned about. */
    private readonly warnFrom = 0,
  ) {
    this.afterCheckpoint = isAfter(checkpoint);
    this.ascending = batch.ascending === true;
  }

  /** Index of the next Kinesis record to decode. */
  get position(): number {
    return this.index;
  }

  /** Arrival time of the batch's last Kinesis record (epoch millis), for the lag estimate. */
  get lastArrivalMillis(): number {
    const records = this.batch.records;
    return arrivalMillisOf(records[records.length - 1]);
  }

  /** True when every Kinesis record was decoded and every user record taken (or decoding stopped). */
  get finished(): boolean {
    return (
      this.peeked === undefined &&
      (this.expanded === undefined || this.expandedIndex >= this.expanded.length) &&
      (this.undecodable !== undefined || this.index >= this.batch.records.length)
    );
  }

  /** True when a record above the checkpoint is left (decoding up to it, not past it). */
  hasNext(): boolean {
    this.peeked ??= this.take();
    return this.peeked !== undefined;
  }

  next(): KinesisUserRecord | undefined {
    const peeked = this.peeked;
    if (peeked !== undefined) {
      this.peeked = undefined;
      return peeked;
    }
    return this.take();
  }

  /** The rest as an array (for a processor that takes the batch whole). */
  rest(): KinesisUserRecord[] {
    const records: KinesisUserRecord[] = [];
    for (let record = this.next(); record !== undefined; record = this.next()) records.push(record);
    return records;
  }

  private take(): KinesisUserRecord | undefined {
    for (;;) {
      const record = this.decodeNext();
      if (record === undefined) return undefined;
      this.userRecords += 1;
      const last = this.lastTaken;
      // In order (as Lambda delivers), after the last record taken is after the checkpoint too.
      if (last !== undefined && (this.ascending || isNumericAfter(record, last))) {
        this.lastTaken = record;
        return record;
      }
      if (!this.afterCheckpoint(record)) {
        this.duplicatesSkipped += 1;
        continue;
      }
      if (last !== undefined) this.inOrder = false;
      this.lastTaken = record;
      return record;
    }
  }

  private decodeNext(): KinesisUserRecord | undefined {
    const expanded = this.expanded;
    if (expanded !== undefined) {
      if (this.expandedIndex < expanded.length) return expanded[this.expandedIndex++];
      this.expanded = undefined;
    }
    const records = this.batch.records;
    if (this.undecodable !== undefined || this.index >= records.length) return undefined;
    const index = this.index++;
    const record = records[index];
    const kinesis = record.kinesis;
    const sequenceNumber = kinesis.sequenceNumber;
    const data = decodeData(kinesis.data);
    if (data === undefined) {
      this.undecodable = {
        sequenceNumber,
        reason: `Record ${sequenceNumber} of ${this.batch.shardId} has data that is not valid base64`,
      };
      return undefined;
    }
    this.kinesisRecords += 1;
    this.kinesisBytes += data.length;
    const approximateArrivalTimestamp = new Date(arrivalMillisOf(record));
    const shardId = this.batch.shardId;
    if (this.expandAggregates && isAggregated(data)) {
      const warn = index >= this.warnFrom ? this.batch.warn : undefined;
      const userRecords = deaggregate({ shardId, sequenceNumber, partitionKey: kinesis.partitionKey, data, approximateArrivalTimestamp }, warn);
      if (userRecords.length > 1) {
        this.expanded = userRecords;
        this.expandedIndex = 1;
      }
      return userRecords[0];
    }
    return {
      shardId,
      sequenceNumber,
      subSequenceNumber: 0,
      partitionKey: kinesis.partitionKey,
      explicitHashKey: undefined,
      data,
      approximateArrivalTimestamp,
      aggregated: false,
    };
  }
}

/** Every user record of a batch, decoded whole (the rare paths: failures, timeouts, lost leases). */
export interface DecodedShardBatch {
  readonly userRecords: readonly KinesisUserRecord[];
  readonly kinesisRecords: number;
  readonly kinesisBytes: number;
  readonly undecodable?: UndecodableRecord;
}

export function decodeShardBatch(batch: ShardBatch, expandAggregates: boolean, warnFrom: number): DecodedShardBatch {
  const stream = new UserRecordStream(batch, expandAggregates, { sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 }, warnFrom);
  const userRecords = stream.rest();
  return { userRecords, kinesisRecords: stream.kinesisRecords, kinesisBytes: stream.kinesisBytes, undecodable: stream.undecodable };
}

/**
 * Decodes a base64 payload; undefined when it is not valid base64. Node's decoder
 * skips characters it does not know, so a length check is what catches corrupt
 * input without a second pass.
 */
function decodeData(base64: string): Buffer | undefined {
  const length = base64.length;
  if (length % 4 !== 0) return undefined;
  const data = Buffer.from(base64, 'base64');
  const padding = length === 0 || base64.charCodeAt(length - 1) !== 61 ? 0 : base64.charCodeAt(length - 2) === 61 ? 2 : 1; // '='
  return data.length === (length / 4) * 3 - padding ? data : undefined;
}

/** Lambda gives the arrival time in epoch seconds with a fraction. */
function arrivalMillisOf(record: KinesisStreamRecord): number {
  return Math.round(record.kinesis.approximateArrivalTimestamp * 1000);
}
