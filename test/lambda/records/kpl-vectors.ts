/**
 * KPL test vectors: aggregates built by aws-kinesis-agg (the reference aggregator),
 * its de-aggregator as the reference to compare against, and a tiny protobuf writer
 * for the malformed and unusual messages no aggregator produces.
 */
import * as crypto from 'node:crypto';
import kinesisAgg = require('aws-kinesis-agg');
import { KPL_MAGIC, type KinesisRecordInput } from '../../../lambda/records/deaggregate';

export interface UserRecordSpec {
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  readonly data: Buffer;
}

/** aws-kinesis-agg's synchronous aggregator; its typings leave it out. */
interface RecordAggregator {
  addUserRecord(record: { partitionKey: string; explicitHashKey?: string; data: Buffer }): void;
  build(): { partitionKey: string; data: Buffer; ExplicitHashKey?: string } | undefined;
}
const { RecordAggregator } = kinesisAgg as unknown as { RecordAggregator: new () => RecordAggregator };

/** One aggregate holding all `records`, encoded by aws-kinesis-agg. Throws if they do not fit in 1 MB. */
export function aggregate(records: readonly UserRecordSpec[]): Buffer {
  const aggregator = new RecordAggregator();
  for (const record of records) {
    // The aggregator may replace `data`; give it its own object.
    aggregator.addUserRecord({ partitionKey: record.partitionKey, explicitHashKey: record.explicitHashKey, data: record.data });
  }
  const built = aggregator.build();
  if (built === undefined) throw new Error('aws-kinesis-agg built no aggregate');
  return built.data;
}

/**
 * Keys aws-kinesis-agg 4.2.8 cannot aggregate faithfully: it keeps its key tables in
 * plain objects. Object.keys lists integer-like keys ("7", "42") first, in numeric order,
 * while records keep insertion-order indexes, so such keys come back attached to the
 * wrong user records (from any de-aggregator); "__proto__" never enters the table; and
 * "hasOwnProperty" shadows the method it calls, so the next record throws.
 */
export const keysAwsKinesisAggMishandles = ['__proto__', 'hasOwnProperty'];

/** False when the aggregate of `records` will not say what went in (see above). */
export function aggregatorKeepsKeys(records: readonly UserRecordSpec[]): boolean {
  const mishandled = (key: string): boolean =>
    keysAwsKinesisAggMishandles.includes(key) || (/^(0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1);
  return records.every(
    (record) => !mishandled(record.partitionKey) && (record.explicitHashKey === undefined || !mishandled(record.explicitHashKey)),
  );
}

export const SHARD_ID = 'shardId-000000000007';
export const SEQUENCE_NUMBER = '49590338271490256608559692538361571095921575989136588898';
export const ARRIVAL = new Date('2024-05-01T12:34:56.789Z');

export function kinesisRecord(data: Buffer, overrides: Partial<KinesisRecordInput> = {}): KinesisRecordInput {
  return {
    shardId: SHARD_ID,
    sequenceNumber: SEQUENCE_NUMBER,
    partitionKey: 'outer-partition-key',
    data,
    approximateArrivalTimestamp: ARRIVAL,
    ...overrides,
  };
}

/** The Lambda event's shape of a Kinesis record, which is what aws-kinesis-agg reads. */
export function lambdaPayload(record: KinesisRecordInput): {
  kinesisSchemaVersion: string;
  partitionKey: string;
  sequenceNumber: string;
  data: string;
  approximateArrivalTimestamp: number;
} {
  return {
    kinesisSchemaVersion: '1.0',
    partitionKey: record.partitionKey,
    sequenceNumber: record.sequenceNumber,
    data: record.data.toString('base64'),
    approximateArrivalTimestamp: record.approximateArrivalTimestamp.getTime() / 1000,
  };
}

/**
 * The fields of a user record both de-aggregators report, in our naming. Data is hex:
 * Jest compares strings fast and Buffers byte by byte through its generic equality.
 */
export interface ComparableUserRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly dataHex: string;
}

/** De-aggregates with aws-kinesis-agg's deaggregateSync (checksums on); throws what it reports. */
export function referenceDeaggregate(record: KinesisRecordInput): ComparableUserRecord[] {
  let result: ComparableUserRecord[] | undefined;
  let failure: Error | undefined;
  kinesisAgg.deaggregateSync(lambdaPayload(record) as never, true, (error, userRecords) => {
    if (error) {
      failure = error;
      return;
    }
    result = (userRecords ?? []).map((userRecord) => ({
      partitionKey: userRecord.partitionKey,
      explicitHashKey: userRecord.explicitPartitionKey,
      sequenceNumber: userRecord.sequenceNumber,
      subSequenceNumber: userRecord.subSequenceNumber,
      dataHex: Buffer.from(userRecord.data, 'base64').toString('hex'),
    }));
  });
  if (failure) throw failure;
  if (!result) throw new Error('aws-kinesis-agg returned nothing');
  return result;
}

// A protobuf writer just big enough to hand-craft AggregatedRecord messages.
export function varint(value: number | bigint): Buffer {
  let remaining = BigInt(value);
  const bytes: number[] = [];
  do {
    let byte = Number(remaining & 0x7fn);
    remaining >>= 7n;
    if (remaining > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (remaining > 0n);
  return Buffer.from(bytes);
}

export function varintField(field: number, value: number | bigint): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

export function bytesField(field: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** A user record message; leave `partitionKeyIndex` or `data` undefined to omit them. */
export function recordMessage(fields: {
  partitionKeyIndex?: number;
  explicitHashKeyIndex?: number;
  data?: Buffer;
  extra?: Buffer[];
}): Buffer {
  const parts: Buffer[] = [];
  if (fields.partitionKeyIndex !== undefined) parts.push(varintField(1, fields.partitionKeyIndex));
  if (fields.explicitHashKeyIndex !== undefined) parts.push(varintField(2, fields.explicitHashKeyIndex));
  if (fields.data !== undefined) parts.push(bytesField(3, fields.data));
  parts.push(...(fields.extra ?? []));
  return Buffer.concat(parts);
}

/** magic | message | MD5(message): a well-framed aggregate around any message bytes. */
export function frame(message: Buffer): Buffer {
  return Buffer.concat([KPL_MAGIC, message, crypto.createHash('md5').update(message).digest()]);
}

export function messageOf(aggregateBytes: Buffer): Buffer {
  return aggregateBytes.subarray(KPL_MAGIC.length, aggregateBytes.length - 16);
}
