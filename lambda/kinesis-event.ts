import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { InvalidKinesisEventError } from './errors';
import { isNumericSequenceNumber } from './sequence-number';

/** The records of one shard in an invocation, in the order Lambda sent them. */
export interface ShardRecords {
  readonly shardId: string;
  readonly eventSourceArn: string;
  readonly records: readonly KinesisStreamRecord[];
}

/**
 * Checks that the event is a Kinesis batch and groups its records by shard
 * (Lambda sends one shard per invocation; grouping keeps us correct regardless).
 * Throws InvalidKinesisEventError naming the first thing that is wrong.
 */
export function shardRecordsOf(event: unknown): ShardRecords[] {
  const records = (event as Partial<KinesisStreamEvent> | null)?.Records;
  if (!Array.isArray(records)) {
    const got = event === null || typeof event !== 'object' ? typeof event : `keys ${JSON.stringify(Object.keys(event))}`;
    throw new InvalidKinesisEventError(`Not a Kinesis stream event: there is no Records array (got ${got})`);
  }
  const groups: { shardId: string; eventSourceArn: string; records: KinesisStreamRecord[] }[] = [];
  let current: (typeof groups)[number] | undefined;
  for (let index = 0; index < records.length; index += 1) {
    const checked = checkRecord(records[index], index);
    // Lambda sends one shard per invocation: only look the group up when the shard changes.
    if (current === undefined || !isOfShard(checked.eventID, current.shardId)) {
      const shardId = shardIdOf(checked, index);
      current = groups.find((group) => group.shardId === shardId);
      if (!current) groups.push((current = { shardId, eventSourceArn: checked.eventSourceARN, records: [] }));
    }
    current.records.push(checked);
  }
  return groups;
}

function isOfShard(eventId: string, shardId: string): boolean {
  return eventId.startsWith(shardId) && eventId.charCodeAt(shardId.length) === 58; // ':'
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
  if (typeof kinesis.data !== 'string') {
    throw new InvalidKinesisEventError(`Record ${index} (${kinesis.sequenceNumber}) has no kinesis.data string`);
  }
  if (typeof kinesis.partitionKey !== 'string') {
    throw new InvalidKinesisEventError(`Record ${index} (${kinesis.sequenceNumber}) has no kinesis.partitionKey string`);
  }
  if (typeof candidate.eventSourceARN !== 'string') {
    throw new InvalidKinesisEventError(`Record ${index} (${kinesis.sequenceNumber}) has no eventSourceARN`);
  }
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

/**
 * Decodes a record's base64 payload. Node's decoder skips characters it does not
 * know, so a length check is what catches corrupt input without a second pass.
 */
export function decodeData(shardId: string, record: KinesisStreamRecord): Buffer {
  const base64 = record.kinesis.data;
  const data = Buffer.from(base64, 'base64');
  if (base64.length % 4 !== 0 || data.length !== decodedLength(base64)) {
    throw new InvalidKinesisEventError(
      `Record ${record.kinesis.sequenceNumber} of ${shardId} has data that is not valid base64`,
    );
  }
  return data;
}

/** Lambda gives the arrival time in epoch seconds with a fraction. */
export function arrivalOf(record: KinesisStreamRecord): Date {
  return new Date(Math.round(Number(record.kinesis.approximateArrivalTimestamp) * 1000));
}

function decodedLength(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}
