import { join } from 'node:path';
import { SHARD_END } from '../../../lambda/records/sequence-number';
import { runDemo, type DemoResult } from '../../../local/demo/demo';
import { EndpointUnreachableError } from '../../../local/emulators/local-services';
import { StreamNotFoundError } from '../../../local/mapping/event-source-mapping';
import { ProcessorModuleError } from '../../../local/demo/processor-module';

/** Settings as the construct deploys them, with batches large enough to keep the test fast. */
const settings = {
  batchSize: 500,
  reportBatchItemFailures: true,
  maximumRetryAttempts: 10,
  functionTimeoutSeconds: 60,
  functionName: 'local-consumer',
};

function expectSoundRun(result: DemoResult): void {
  const { deliveries, summary } = result;
  expect(summary.problems).toEqual([]);
  expect(result.ok).toBe(true);
  // Every record processed at least once.
  const missing = result.produced.filter((record) => !deliveries!.processedPayloads.has(record.payload));
  expect(missing).toEqual([]);
  // First successful processing in stream order, per shard.
  expect(deliveries!.outOfOrderShards()).toEqual([]);
  // Nothing at or below a durable checkpoint reached the processor again.
  expect(result.deliveriesBelowCheckpoint).toBe(0);
  // SHARD_END on every parent.
  const parents = new Set(summary.shards.flatMap((shard) => shard.parents));
  expect(parents.size).toBeGreaterThan(0);
  for (const parent of parents) {
    expect(summary.checkpointRows.find((row) => row.leaseKey === parent)?.checkpoint).toBe(SHARD_END);
  }
  expect(summary.totals.onFailureRecords).toBe(0);
}

test('10,000 records over 4 shards, a split and a merge, random failures: at least once, in order, no replay below a checkpoint', async () => {
  const result = await runDemo({
    records: 10_000,
    shards: 4,
    failRate: 0.01,
    reshards: ['split', 'merge'],
    settings,
    progress: false,
  });
  expectSoundRun(result);
  expect(result.produced).toHaveLength(10_000);
  expect(result.produced.some((record) => record.aggregated)).toBe(true);
  // 4 shards, 2 children of the split, 1 child of the merge.
  expect(result.summary.shards).toHaveLength(7);
  expect(result.summary.shards.filter((shard) => shard.parents.length === 2)).toHaveLength(1);
  expect(result.summary.totals.injectedFailures).toBeGreaterThan(20);
  expect(result.summary.totals.retries).toBeGreaterThanOrEqual(result.summary.totals.injectedFailures / 2);
}, 120_000);

test('a handler module runs with the clients the runtime builds from the environment', async () => {
  const result = await runDemo({
    records: 300,
    processor: join(__dirname, '..', '..', '..', 'examples', 'handler.ts'),
    settings,
    progress: false,
  });
  expect(result.summary.problems).toEqual([]);
  expect(result.deliveries).toBeUndefined();
  const kinesisRecords = new Set(result.produced.map((record) => record.sequenceNumber)).size;
  expect(result.summary.shards.reduce((sum, shard) => sum + shard.kinesisRecords, 0)).toBe(kinesisRecords);
  expect(result.summary.totals.retries).toBeGreaterThanOrEqual(1);
  expect(result.summary.checkpointRows.some((row) => row.checkpoint === SHARD_END)).toBe(true);
});

describe('bad input gives one clear error', () => {
  test('a processor module that exports neither a factory nor a handler', async () => {
    const processor = join(__dirname, 'fixtures', 'not-a-processor.ts');
    await expect(runDemo({ processor, settings, progress: false })).rejects.toThrow(ProcessorModuleError);
    await expect(runDemo({ processor, settings, progress: false })).rejects.toThrow(/exports neither .* It exports: answer\./);
  });

  test('an unreachable endpoint', async () => {
    await expect(runDemo({ kinesisEndpoint: 'http://127.0.0.1:1', settings, progress: false })).rejects.toThrow(EndpointUnreachableError);
    await expect(runDemo({ kinesisEndpoint: 'http://127.0.0.1:1', settings, progress: false })).rejects.toThrow(
      /^Cannot reach Kinesis at http:\/\/127\.0\.0\.1:1: /,
    );
  });

  test('a stream that does not exist', async () => {
    await expect(runDemo({ stream: 'no-such-stream', settings, progress: false })).rejects.toThrow(StreamNotFoundError);
  });
});
