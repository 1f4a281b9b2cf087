/**
 * The benchmarks' inputs and candidates, checked without timing anything: the
 * events are Lambda-shaped, renumbering gives the engine new records each time
 * (so the benchmark measures delivery, not the replay skip), every candidate
 * hands every record to the no-op, and bundles keep the AWS SDK external.
 */
import { shardBatchesOf } from '../../lambda/records/kinesis-event';
import { decodeShardBatch } from '../../lambda/records/user-record-stream';
import { createKclHandler } from '../../lambda/lifecycle/kcl-engine';
import { InMemoryLeaseStore } from '../../lambda/leases/in-memory-lease-store';
import { newLease } from '../../lambda/leases/lease';
import { compareSequenceNumbers } from '../../lambda/records/sequence-number';
import { bundle } from '../../bench/bundle.bench';
import { NoOpWork, SILENT_LOGGER, handWrittenLoop, materializingLoop, powertoolsSequential, streamingLoop } from '../../bench/batch-candidates';
import { BENCH_SHARD_ID, BatchSeries, WORKLOADS, kinesisBatch } from '../../bench/kinesis-workload';

const SMALL = WORKLOADS.find((workload) => workload.records === 100)!;

describe('bench workloads', () => {
  it('covers the two Lambda-limit workloads', () => {
    expect(WORKLOADS.map(({ records, payloadBytes }) => [records, payloadBytes])).toEqual([
      [10_000, 400],
      [100, 1024],
    ]);
  });

  it('builds events the engine accepts as one shard, with payloads of the stated size', () => {
    const event = kinesisBatch(SMALL);
    const shards = shardBatchesOf(event, { deaggregate: true });
    expect(shards).toHaveLength(1);
    expect(shards[0].shardId).toBe(BENCH_SHARD_ID);
    expect(decodeShardBatch(shards[0], true, 0).userRecords).toHaveLength(100);
    for (const record of event.Records) {
      expect(Buffer.from(record.kinesis.data, 'base64')).toHaveLength(1024);
      expect(record.eventID).toBe(`${BENCH_SHARD_ID}:${record.kinesis.sequenceNumber}`);
    }
  });

  it('renumbers each batch strictly above the previous one, in order within the batch', () => {
    const series = new BatchSeries(kinesisBatch(SMALL));
    const lastOf = (numbers: string[]) => numbers[numbers.length - 1];
    let previous = series.event.Records.map((record) => record.kinesis.sequenceNumber);
    for (let batch = 0; batch < 3; batch += 1) {
      const numbers = series.next().Records.map((record) => record.kinesis.sequenceNumber);
      expect(compareSequenceNumbers(numbers[0], lastOf(previous))).toBeGreaterThan(0);
      for (let index = 1; index < numbers.length; index += 1) {
        expect(compareSequenceNumbers(numbers[index], numbers[index - 1])).toBeGreaterThan(0);
      }
      previous = numbers;
    }
  });

  it('makes the engine deliver every record of every renumbered batch, and none of a replay', async () => {
    const store = new InMemoryLeaseStore();
    await store.writeCheckpoint(newLease(BENCH_SHARD_ID), {
      // A real checkpoint below every record: steady state (no lineage lookup for a new shard).
    checkpoint: { sequenceNumber: '0', subSequenceNumber: 0 },
      owner: 'test',
    });
    const work = new NoOpWork();
    const handler = createKclHandler(
      () => ({
        initialize() {},
        processRecords({ records }) {
          for (const record of records) work.handle(record.data);
        },
        shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
      }),
      { logger: SILENT_LOGGER, metrics: false },
      { leaseStore: store },
    );
    const series = new BatchSeries(kinesisBatch(SMALL));
    for (let batch = 0; batch < 3; batch += 1) {
      work.delivered = 0;
      await expect(handler(series.next())).resolves.toEqual({ batchItemFailures: [] });
      expect(work.delivered).toBe(100);
    }
    work.delivered = 0;
    await handler(series.event);
    expect(work.delivered).toBe(0);
  });

  it.each([
    ['hand-written loop', handWrittenLoop],
    ['materializing loop', materializingLoop],
    ['streaming loop', streamingLoop],
    ['Powertools sequential', powertoolsSequential],
  ])('%s hands every record to the no-op and reports the first failure', async (_name, build) => {
    const work = new NoOpWork();
    const event = kinesisBatch(SMALL);
    await expect(build(work)(event)).resolves.toEqual({ batchItemFailures: [] });
    expect(work.delivered).toBe(100);
    expect(work.bytes).toBe(100 * 1024);

    const failing = new NoOpWork();
    const original = failing.handle;
    Object.assign(failing, {
      handle: (data: Uint8Array) => {
        if (failing.delivered === 10) throw new Error('record 11 fails');
        original(data);
      },
    });
    const response = await build(failing)(event);
    expect(response.batchItemFailures[0]).toEqual({ itemIdentifier: event.Records[10].kinesis.sequenceNumber });
  });

  it('bundles with the AWS SDK left external', async () => {
    const code = await bundle('bench/fixtures/hello-dynamodb-handler.ts');
    expect(code).toContain('require("@aws-sdk/client-dynamodb")');
    expect(code).not.toContain('class DynamoDBClient');
  });
});
