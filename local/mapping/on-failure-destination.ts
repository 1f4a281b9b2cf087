import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

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
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    /** Present when the last invocation errored or timed out (Lambda says `Unhandled`). */
    readonly functionError?: string;
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
  send(record: KinesisOnFailureRecord): Promise<void>;
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
