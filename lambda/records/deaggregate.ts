/**
 * KPL de-aggregation: one Kinesis record in, its user records out.
 *
 * Aggregate format (amazon-kinesis-producer's aggregation-format.md):
 *   magic F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16 bytes)
 */
import * as crypto from 'node:crypto';
import {
  DATA_END,
  DATA_START,
  EXPLICIT_HASH_KEY_INDEX,
  PARTITION_KEY_INDEX,
  USER_RECORD_FIELDS,
  decodeAggregatedRecord,
} from './kpl-aggregated-record';
import type { KinesisUserRecord } from './kinesis-user-record';

/** One Kinesis record as the engine has it after base64-decoding the Lambda event. */
export interface KinesisRecordInput {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly approximateArrivalTimestamp: Date;
}

export const KPL_MAGIC: Buffer = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

const MAGIC_LENGTH = 4;
const MD5_LENGTH = 16;

/** True when the data starts with the KPL magic (it may still turn out to be corrupt). */
export function isAggregated(data: Buffer): boolean {
  return data.length >= MAGIC_LENGTH && data[0] === 0xf3 && data[1] === 0x89 && data[2] === 0x9a && data[3] === 0xc2;
}

/**
 * Expands one Kinesis record into its user records. Never throws on bad data: a corrupt
 * aggregate is returned as one plain record (aggregated: false, subSequenceNumber 0, the
 * original bytes) and `onCorrupt` is called once with a message naming the sequence
 * number and the cause. That is KCL's rule, with the warning KCL leaves out.
 *
 * Unlike KCL 2.x, user records whose hash key falls outside the shard's range (possible
 * after a reshard) are delivered, not dropped.
 */
export function deaggregate(record: KinesisRecordInput, onCorrupt?: (message: string) => void): KinesisUserRecord[] {
  const data = record.data;
  if (!isAggregated(data)) return [plainRecord(record)];
  const cause = corruptionOf(data);
  if (cause === undefined) {
    try {
      return expand(record);
    } catch (error) {
      onCorrupt?.(corruptMessage(record, error instanceof Error ? error.message : String(error)));
      return [plainRecord(record)];
    }
  }
  onCorrupt?.(corruptMessage(record, cause));
  return [plainRecord(record)];
}

function plainRecord(record: KinesisRecordInput): KinesisUserRecord {
  return {
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: 0,
    partitionKey: record.partitionKey,
    explicitHashKey: undefined,
    data: record.data,
    approximateArrivalTimestamp: record.approximateArrivalTimestamp,
    aggregated: false,
  };
}

/** Why the frame around the protobuf is bad, or undefined when length and MD5 are right. */
function corruptionOf(data: Buffer): string | undefined {
  // KCL also treats magic + an empty message + digest as not aggregated: the KPL never
  // writes an aggregate without user records.
  if (data.length <= MAGIC_LENGTH + MD5_LENGTH) {
    return `only ${data.length} bytes, too short for magic, message and MD5`;
  }
  const messageEnd = data.length - MD5_LENGTH;
  const digest = md5(data.subarray(MAGIC_LENGTH, messageEnd));
  for (let i = 0; i < MD5_LENGTH; i++) {
    if (digest[i] !== data[messageEnd + i]) return 'MD5 mismatch';
  }
  return undefined;
}

function expand(record: KinesisRecordInput): KinesisUserRecord[] {
  const data = record.data;
  const { partitionKeyTable, explicitHashKeyTable, userRecordFields: fields } = decodeAggregatedRecord(
    data,
    MAGIC_LENGTH,
    data.length - MD5_LENGTH,
  );
  const count = fields.length / USER_RECORD_FIELDS;
  if (count === 0) throw new Error('the aggregate holds no user records');
  const userRecords = new Array<KinesisUserRecord>(count);
  const { shardId, sequenceNumber, approximateArrivalTimestamp } = record;
  // Views made from the ArrayBuffer directly: Buffer#subarray goes through the species
  // lookup, which costs more than the rest of a small user record (measured).
  const arrayBuffer = data.buffer;
  const offset = data.byteOffset;
  for (let i = 0, at = 0; i < count; i++, at += USER_RECORD_FIELDS) {
    const partitionKeyIndex = fields[at + PARTITION_KEY_INDEX];
    const partitionKey = partitionKeyTable[partitionKeyIndex];
    if (partitionKey === undefined) {
      throw new Error(`user record ${i} names partition key ${partitionKeyIndex} but the table has ${partitionKeyTable.length}`);
    }
    const explicitHashKeyIndex = fields[at + EXPLICIT_HASH_KEY_INDEX];
    let explicitHashKey: string | undefined;
    if (explicitHashKeyIndex >= 0) {
      explicitHashKey = explicitHashKeyTable[explicitHashKeyIndex];
      if (explicitHashKey === undefined) {
        throw new Error(
          `user record ${i} names explicit hash key ${explicitHashKeyIndex} but the table has ${explicitHashKeyTable.length}`,
        );
      }
    }
    const dataStart = fields[at + DATA_START];
    userRecords[i] = {
      shardId,
      sequenceNumber,
      subSequenceNumber: i,
      partitionKey,
      explicitHashKey,
      data: Buffer.from(arrayBuffer, offset + dataStart, fields[at + DATA_END] - dataStart),
      approximateArrivalTimestamp,
      aggregated: true,
    };
  }
  return userRecords;
}

function corruptMessage(record: KinesisRecordInput, cause: string): string {
  return (
    `Kinesis record ${record.sequenceNumber} on ${record.shardId} starts with the KPL magic but is not a valid ` +
    `aggregate (${cause}); delivered as one plain record`
  );
}

// crypto.hash (Node 20.12+) skips the Hash object, which matters for small aggregates.
const md5: (bytes: Buffer) => Buffer =
  typeof crypto.hash === 'function'
    ? (bytes) => crypto.hash('md5', bytes, 'buffer')
    : (bytes) => crypto.createHash('md5').update(bytes).digest();
