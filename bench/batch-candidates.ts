/**
 * The contenders of the handler-overhead benchmark, apart from the timing so that
 * tests can check them: the shared no-op, the hand-written loop, Powertools, and
 * the processors our wrappers run.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { InMemoryLeaseStore } from '../lambda/leases/in-memory-lease-store';
import type { KinesisUserRecord } from '../lambda/records/kinesis-user-record';
import { newLease } from '../lambda/leases/lease';
import type { RecordProcessor } from '../lambda/record-processor';
import { RecordHandlerProcessor } from '../lambda/with-record-handler';

/** The same no-op for every candidate; it counts, so nothing can skip it unnoticed. */
export class NoOpWork {
  delivered = 0;
  bytes = 0;

  readonly handle = (data: Uint8Array): void => {
    this.delivered += 1;
    this.bytes += data.length;
  };
}

/** Quiet: one log line per batch and one EMF line would otherwise go to stdout. */
export const SILENT_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };
export const QUIET = { logger: SILENT_LOGGER, metrics: false } as const;

/** (1) What a careful engineer writes without a library: in order, stop at the first failure. */
export function handWrittenLoop(work: NoOpWork) {
  return async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    const records = event.Records;
    for (let index = 0; index < records.length; index += 1) {
      const record = records[index];
      try {
        await work.handle(Buffer.from(record.kinesis.data, 'base64'));
      } catch {
        return { batchItemFailures: [{ itemIdentifier: record.kinesis.sequenceNumber }] };
      }
    }
    return { batchItemFailures: [] };
  };
}

/**
 * (1b) The floor of any API that hands the processor an array of decoded records (as
 * KCL's processRecords does): decode every record into a user record first, then
 * call the no-op on each in order. No validation, no checkpoint, no replay filter.
 */
export function materializingLoop(work: NoOpWork) {
  return async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    const records = event.Records;
    const userRecords: KinesisUserRecord[] = new Array(records.length);
    for (let index = 0; index < records.length; index += 1) {
      const { kinesis } = records[index];
      userRecords[index] = {
        shardId: 'shard',
        sequenceNumber: kinesis.sequenceNumber,
        subSequenceNumber: 0,
        partitionKey: kinesis.partitionKey,
        explicitHashKey: undefined,
        data: Buffer.from(kinesis.data, 'base64'),
        approximateArrivalTimestamp: new Date(Math.round(kinesis.approximateArrivalTimestamp * 1000)),
        aggregated: false,
      };
    }
    for (const record of userRecords) {
      try {
        await work.handle(record.data);
      } catch {
        return { batchItemFailures: [{ itemIdentifier: record.sequenceNumber }] };
      }
    }
    return { batchItemFailures: [] };
  };
}

/**
 * (1c) The floor of a per-record API that hands on user records: decode each record
 * into a user record (with its Date) and hand it on at once, no array, awaiting only
 * a handler that returns a promise. No validation, no checkpoint, no replay filter.
 */
export function streamingLoop(work: NoOpWork) {
  const handle = (record: KinesisUserRecord): void | Promise<void> => work.handle(record.data);
  return async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    const records = event.Records;
    for (let index = 0; index < records.length; index += 1) {
      const { kinesis } = records[index];
      try {
        const result = handle({
          shardId: 'shard',
          sequenceNumber: kinesis.sequenceNumber,
          subSequenceNumber: 0,
          partitionKey: kinesis.partitionKey,
          explicitHashKey: undefined,
          data: Buffer.from(kinesis.data, 'base64'),
          approximateArrivalTimestamp: new Date(Math.round(kinesis.approximateArrivalTimestamp * 1000)),
          aggregated: false,
        });
        if (result !== undefined) await result;
      } catch {
        return { batchItemFailures: [{ itemIdentifier: kinesis.sequenceNumber }] };
      }
    }
    return { batchItemFailures: [] };
  };
}

/** (2) Powertools, sequential; its Kinesis record handler gets the raw record, so it decodes. */
export function powertoolsSequential(work: NoOpWork) {
  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  const recordHandler = (record: KinesisStreamRecord) => work.handle(Buffer.from(record.kinesis.data, 'base64'));
  return (event: KinesisStreamEvent) =>
    processPartialResponse(event, recordHandler, processor, { processInParallel: false }) as Promise<KinesisStreamBatchResponse>;
}

/** A withKclProcessor processor that hands each record to the no-op and lets auto mode checkpoint. */
export function noOpProcessor(work: NoOpWork): RecordProcessor {
  return {
    initialize() {},
    processRecords({ records }) {
      for (const record of records) work.handle(record.data);
    },
    shardEnded({ checkpointer }) {
      return checkpointer.checkpoint();
    },
  };
}

/** withRecordHandler's own adapter, run on the engine with a lease store of our choosing. */
export function perRecordProcessor(handle: (record: KinesisUserRecord) => void): RecordProcessor {
  return new RecordHandlerProcessor(handle);
}

/** A lease store whose shard already has a row: steady state, no lineage lookup. */
export async function seededInMemoryStore(shardId: string): Promise<InMemoryLeaseStore> {
  const store = new InMemoryLeaseStore();
  await store.writeCheckpoint(newLease(shardId), {
    // A real checkpoint below every record: steady state (no lineage lookup for a new shard).
    checkpoint: { sequenceNumber: '0', subSequenceNumber: 0 },
    owner: 'kcl-bench',
  });
  return store;
}
