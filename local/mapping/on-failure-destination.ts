import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';

/** Why Lambda gave up on a batch. */
export type OnFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** The JSON document Lambda sends to an SQS/SNS on-failure destination for a Kinesis batch. */
export interface KinesisOnFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: OnFailureCondition;
    readonly approximateInvokeCount: number;
  };
  /** Absent for `RecordAgeExceeded` (AWS sends none for records that expired). */
  readonly responseContext?: {
    readonly statusCode: number;
    readonly executedVersion: string;
    /** `Unhandled` when the last invocation errored or timed out; null when the function returned. */
    readonly functionError: string | null;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

/** Where discarded batches are described. */
export interface OnFailureDestination {
  /** `payload` is the whole event of the discarded records (only an S3 destination keeps it). */
  send(record: KinesisOnFailureRecord, payload: KinesisStreamEvent): Promise<void>;
}

/** What Lambda writes to an S3 on-failure destination: the same document plus the whole event. */
export interface KinesisS3OnFailureObject extends KinesisOnFailureRecord {
  /** The discarded records' invocation event, as JSON text. */
  readonly payload: string;
}

/**
 * The object key Lambda uses in an S3 on-failure destination:
 * `aws/lambda/<mapping UUID>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>`.
 */
export function s3OnFailureKey(mappingId: string, shardId: string, at: Date, unique: string = randomUUID()): string {
  const iso = at.toISOString();
  const [date, time] = [iso.slice(0, 10), iso.slice(11, 19)];
  return `aws/lambda/${mappingId}/${shardId}/${date.replace(/-/g, '/')}/${date}T${time.replace(/:/g, '.')}-${unique}`;
}

/** The local stand-in for an S3 bucket destination: one JSON file per discarded batch, at Lambda's key under `root`. */
export class DirectoryS3OnFailureDestination implements OnFailureDestination {
  /** Keys written, in order. */
  readonly keys: string[] = [];
  constructor(
    readonly root: string,
    readonly mappingId: string = randomUUID(),
  ) {}

  async send(record: KinesisOnFailureRecord, payload: KinesisStreamEvent): Promise<void> {
    const key = s3OnFailureKey(this.mappingId, record.KinesisBatchInfo.shardId, new Date(record.timestamp));
    const object: KinesisS3OnFailureObject = { ...record, payload: JSON.stringify(payload) };
    const path = join(this.root, ...key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(object), 'utf8');
    this.keys.push(key);
  }
}

/** Keeps on-failure records in memory; for tests and summaries. */
export class InMemoryOnFailureDestination implements OnFailureDestination {
  readonly records: KinesisOnFailureRecord[] = [];
  async send(record: KinesisOnFailureRecord): Promise<void> {
    this.records.push(record);
  }
}

/** Appends each on-failure record as one JSON line, the local stand-in for the SQS queue. */
export class JsonLinesOnFailureDestination implements OnFailureDestination {
  readonly records: KinesisOnFailureRecord[] = [];
  constructor(readonly path: string) {}

  async send(record: KinesisOnFailureRecord): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify(record)}\n`, 'utf8');
    this.records.push(record);
  }
}
