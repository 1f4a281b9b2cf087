import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** Where the records came from, as Lambda stamps it on every event record. */
export interface EventSource {
  readonly streamArn: string;
  readonly region: string;
  /** The function's execution role in AWS; any role ARN locally. */
  readonly invokeIdentityArn: string;
}

/**
 * The event Lambda builds from one GetRecords batch of one shard: every field
 * Lambda sets, data base64-encoded, arrival time in epoch seconds.
 */
export function toKinesisStreamEvent(shardId: string, records: readonly KinesisRecord[], source: EventSource): KinesisStreamEvent {
  return { Records: records.map((record) => toKinesisStreamRecord(shardId, record, source)) };
}

export function toKinesisStreamRecord(shardId: string, record: KinesisRecord, source: EventSource): KinesisStreamRecord {
  const sequenceNumber = record.SequenceNumber ?? '';
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber,
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: source.invokeIdentityArn,
    awsRegion: source.region,
    eventSourceARN: source.streamArn,
  };
}

/** Bytes of `{"Records":[]}`: the event around its records. */
export const EMPTY_EVENT_BYTES = Buffer.byteLength(JSON.stringify({ Records: [] }));

/**
 * Bytes one record adds to the event's JSON (without the comma between records), as
 * Lambda counts toward its 6 MB payload limit: the base64 data and 550–710 bytes of
 * fields, depending on ARNs and ids. Computed from the record as it will be sent.
 */
export function eventRecordBytes(shardId: string, record: KinesisRecord, source: EventSource): number {
  return Buffer.byteLength(JSON.stringify(toKinesisStreamRecord(shardId, record, source)));
}
