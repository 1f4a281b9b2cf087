import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { deaggregate, isAggregated } from './deaggregate';
import { InvalidKinesisEventError } from '../errors';
import type { KinesisUserRecord } from './kinesis-user-record';
import { isNumericSequenceNumber } from './sequence-number';

/**
 * One shard's part of an invocation: its Kinesis records in the order Lambda sent
 * them, checked but not yet decoded. Decoding happens once, record by record, as
 * the records are delivered (see UserRecordStream): a per-record handler never
 * needs all of a 10,000-record batch decoded at once.
 */
export interface ShardBatch {
  readonly shardId: string;
  readonly eventSourceArn: string;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  readonly records: readonly KinesisStreamRecord[];
  /** Told once per corrupt KPL aggregate (it is delivered as one plain record). */
  readonly warn?: (message: string) => void;
  /**
   * True when every record's sequence number lies above the one before it (as Lambda
   * sends them): then each user record lies after the one before it, and delivery
   * needs no comparison per record. Found by the check, which reads every number anyway.
   */
  readonly ascending?: boolean;
}

export interface DecodeOptions {
  /** Expand KPL aggregates. */
  readonly deaggregate: boolean;
  /** Told once per corrupt KPL aggregate (it is delivered as one plain record). */
  readonly onCorrupt?: (shardId: string, message: string) => void;
}

interface MutableShardBatch {
  shardId: string;
  eventSourceArn: string;
  firstSequenceNumber: string;
  lastSequenceNumber: string;
  records: KinesisStreamRecord[];
  warn?: (message: string) => void;
  ascending: boolean;
}

/**
 * Checks that the event is a Kinesis batch and groups its records by shard (Lambda
 * sends one shard per invocation; grouping keeps us correct regardless), in one
 * pass that decodes nothing: a structural problem anywhere fails the invocation
 * before any record is delivered.
 * Throws InvalidKinesisEventError naming the first structural problem.
 */
export function shardBatchesOf(event: unknown, options: DecodeOptions): ShardBatch[] {
  const records = (event as Partial<KinesisStreamEvent> | null)?.Records;
  if (!Array.isArray(records)) {
    const got = event === null || typeof event !== 'object' ? typeof event : `keys ${JSON.stringify(Object.keys(event))}`;
    throw new InvalidKinesisEventError(`Not a Kinesis stream event: there is no Records array (got ${got})`);
  }
  const batches: MutableShardBatch[] = [];
  let batch: MutableShardBatch | undefined;
  let previous = '';
  let ascending = true;
  for (let index = 0; index < records.length; index += 1) {
    const record = checkRecord(records[index], index);
    const sequenceNumber = record.kinesis.sequenceNumber;
    // While its digits are in cache; a leading zero (never from Kinesis) takes the general path.
    if (ascending) ascending = isAbove(sequenceNumber, previous);
    previous = sequenceNumber;
    if (batch === undefined || !isOfShard(record.eventID, batch.shardId)) batch = batchFor(batches, record, index, options);
    batch.lastSequenceNumber = sequenceNumber;
  }
  // Each shard's records are a part of the event's, so they ascend if the event's do.
  for (const each of batches) each.ascending = ascending;
  // One shard (what Lambda sends): the event's own array, checked above.
  if (batches.length === 1) batches[0].records = records as KinesisStreamRecord[];
  else for (const record of records as KinesisStreamRecord[]) batchOf(batches, record).records.push(record);
  return batches;
}

function batchOf(batches: readonly MutableShardBatch[], record: KinesisStreamRecord): MutableShardBatch {
  // Every record was checked to belong to one of them.
  return batches.find((candidate) => isOfShard(record.eventID, candidate.shardId)) as MutableShardBatch;
}

/** The batch of the record's shard, created when the shard first appears. */
function batchFor(batches: MutableShardBatch[], record: KinesisStreamRecord, index: number, options: DecodeOptions): MutableShardBatch {
  const shardId = shardIdOf(record, index);
  let batch = batches.find((candidate) => candidate.shardId === shardId);
  if (!batch) {
    const onCorrupt = options.onCorrupt;
    batch = {
      shardId,
      eventSourceArn: record.eventSourceARN,
      firstSequenceNumber: record.kinesis.sequenceNumber,
      lastSequenceNumber: record.kinesis.sequenceNumber,
      records: [],
      ascending: false,
      warn: onCorrupt && ((message) => onCorrupt(shardId, message)),
    };
    batches.push(batch);
  }
  return batch;
}

/**
 * One Kinesis record as user records: its KPL contents, or itself. The plain case
 * builds the user record directly: this runs once per record of every batch.
 */
export function appendUserRecords(
  into: KinesisUserRecord[],
  shardId: string,
  sequenceNumber: string,
  partitionKey: string,
  data: Buffer,
  approximateArrivalTimestamp: Date,
  expandAggregates: boolean,
  warn?: (message: string) => void,
): void {
  if (expandAggregates && isAggregated(data)) {
    for (const userRecord of deaggregate({ shardId, sequenceNumber, partitionKey, data, approximateArrivalTimestamp }, warn)) {
      into.push(userRecord);
    }
    return;
  }
  into.push({
    shardId,
    sequenceNumber,
    subSequenceNumber: 0,
    partitionKey,
    explicitHashKey: undefined,
    data,
    approximateArrivalTimestamp,
    aggregated: false,
  });
}

/** `digits` lies above `previous` (both decimal, `previous` may be ''); false for a leading zero. */
function isAbove(digits: string, previous: string): boolean {
  if (digits.length > 1 && digits.charCodeAt(0) === 48) return false; // '0'
  return digits.length !== previous.length ? digits.length > previous.length : digits > previous;
}

function isOfShard(eventId: string, shardId: string): boolean {
  // indexOf, not startsWith: V8 runs startsWith several times slower, and this runs per record.
  return eventId.charCodeAt(shardId.length) === 58 && eventId.indexOf(shardId) === 0; // ':'
}

function checkRecord(record: unknown, index: number): KinesisStreamRecord {
  const candidate = record as Partial<KinesisStreamRecord> | null;
  if (candidate === null || typeof candidate !== 'object') {
    throw new InvalidKinesisEventError(`Record ${index} is not an object`);
  }
  if (candidate.eventSource !== 'aws:kinesis') {
    throw new InvalidKinesisEventError(
      `Record ${index} is not a Kinesis record: eventSource is ${JSON.stringify(candidate.eventSource)}, expected "aws:kinesis"`,
    );
  }
  const kinesis = candidate.kinesis;
  if (!kinesis || typeof kinesis !== 'object') {
    throw new InvalidKinesisEventError(`Record ${index} has no "kinesis" object`);
  }
  if (typeof kinesis.sequenceNumber !== 'string' || !isNumericSequenceNumber(kinesis.sequenceNumber)) {
    throw new InvalidKinesisEventError(
      `Record ${index} has no valid kinesis.sequenceNumber (got ${JSON.stringify(kinesis.sequenceNumber)})`,
    );
  }
  const missing =
    typeof kinesis.data !== 'string'
      ? 'kinesis.data string'
      : typeof kinesis.partitionKey !== 'string'
        ? 'kinesis.partitionKey string'
        : typeof candidate.eventSourceARN !== 'string'
          ? 'eventSourceARN string'
          : typeof candidate.eventID !== 'string'
            ? 'eventID string'
            : !Number.isFinite(kinesis.approximateArrivalTimestamp)
              ? 'numeric kinesis.approximateArrivalTimestamp'
              : undefined;
  if (missing) throw new InvalidKinesisEventError(`Record ${index} (${kinesis.sequenceNumber}) has no ${missing}`);
  return candidate as KinesisStreamRecord;
}

/** Lambda's eventID is `shardId:sequenceNumber`. */
function shardIdOf(record: KinesisStreamRecord, index: number): string {
  const eventId = record.eventID;
  const colon = typeof eventId === 'string' ? eventId.indexOf(':') : -1;
  if (colon <= 0) {
    throw new InvalidKinesisEventError(
      `Record ${index} (${record.kinesis.sequenceNumber}) has eventID ${JSON.stringify(eventId)}, expected "shardId:sequenceNumber"`,
    );
  }
  return eventId.slice(0, colon);
}
