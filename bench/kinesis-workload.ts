/**
 * Lambda-shaped Kinesis events for the benchmarks: one shard, payloads of a fixed
 * size, and sequence numbers that can be moved forward between iterations so the
 * engine sees new records every time (a replay would be skipped and measure the
 * wrong path).
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

export interface Workload {
  readonly name: string;
  readonly records: number;
  readonly payloadBytes: number;
}

/** Lambda's limits: about the 6 MB payload limit, and the default batch size. */
export const WORKLOADS: readonly Workload[] = [
  { name: '10,000 × 400 B', records: 10_000, payloadBytes: 400 },
  { name: '100 × 1 KB', records: 100, payloadBytes: 1024 },
];

export const BENCH_SHARD_ID = 'shardId-000000000000';
export const BENCH_STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/kcl-bench';

/** Where batch 0 starts: a 56-digit number, like the ones Kinesis hands out. */
const FIRST_SEQUENCE_NUMBER = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;
/** Kinesis numbers grow in steps larger than one; any positive step will do. */
const SEQUENCE_STEP = 1_000n;

/** A repeatable payload of `bytes` bytes (printable, like typical JSON records). */
export function payload(bytes: number, seed: number): Buffer {
  const data = Buffer.alloc(bytes);
  let state = (seed * 2_654_435_761) >>> 0 || 1;
  for (let index = 0; index < bytes; index += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[index] = 32 + ((state >>> 0) % 95);
  }
  return data;
}

/** The sequence number of record `index` of batch `batch` of a workload with `records` per batch. */
export function sequenceNumberOf(records: number, batch: number, index: number): string {
  return (FIRST_SEQUENCE_NUMBER + (BigInt(batch) * BigInt(records) + BigInt(index)) * SEQUENCE_STEP).toString();
}

/** Batch 0 of a workload as Lambda delivers it: base64 data, arrival time in epoch seconds. */
export function kinesisBatch(
  workload: Workload,
  streamArn = BENCH_STREAM_ARN,
  shardId = BENCH_SHARD_ID,
): KinesisStreamEvent {
  const arrival = Date.now() / 1000;
  const Records: KinesisStreamRecord[] = [];
  for (let index = 0; index < workload.records; index += 1) {
    const sequenceNumber = sequenceNumberOf(workload.records, 0, index);
    Records.push({
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/kcl-bench',
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: `pk-${index % 64}`,
        sequenceNumber,
        data: payload(workload.payloadBytes, index + 1).toString('base64'),
        approximateArrivalTimestamp: arrival,
      },
    });
  }
  return { Records };
}

/**
 * Rewrites the event in place as batch `batch` of the same shard: every sequence
 * number lies above every number of earlier batches. Done outside the timed part.
 */
export function renumber(event: KinesisStreamEvent, batch: number): void {
  const records = event.Records;
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index];
    const sequenceNumber = sequenceNumberOf(records.length, batch, index);
    const shardId = record.eventID.slice(0, record.eventID.indexOf(':'));
    record.kinesis.sequenceNumber = sequenceNumber;
    record.eventID = flat(`${shardId}:${sequenceNumber}`);
  }
}

/**
 * A concatenated string as one flat string, as Lambda's JSON.parse of the event
 * makes them: a concatenation stays a rope until first read, and the first reader
 * (whichever candidate that is) would pay for flattening it.
 */
function flat(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/**
 * Hands out batch 1, 2, 3… of one event: call `next()` before each timed call.
 * Batch 0 is left for seeding (e.g. the lease row a steady-state shard has).
 */
export class BatchSeries {
  private batch = 0;

  constructor(readonly event: KinesisStreamEvent) {}

  next(): KinesisStreamEvent {
    this.batch += 1;
    renumber(this.event, this.batch);
    return this.event;
  }

  get batchNumber(): number {
    return this.batch;
  }
}
