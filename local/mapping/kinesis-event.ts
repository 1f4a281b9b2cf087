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

/** Approximate bytes a record adds to the invocation payload (Lambda caps it at 6 MB). */
export function approximateEventBytes(record: KinesisRecord): number {
  const dataBytes = record.Data?.length ?? 0;
  return Math.ceil(dataBytes / 3) * 4 + (record.PartitionKey?.length ?? 0) + 400;
}
