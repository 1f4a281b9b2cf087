import type { ShardBatchStats } from '../../../lambda/observability/batch-stats';
import { createKclHandler } from '../../../lambda/lifecycle/kcl-engine';
import { withRecordHandler } from '../../../lambda';
import { aggregate } from '../records/kpl-vectors';
import {
  type RuntimeHarness,
  type TestStream,
  kinesisEvent,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';

describe('what the engine measures for a known batch', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
  });
  afterAll(async () => harness.close());
  beforeEach(async () => {
    tableName = await harness.newTable();
  });

  test('counts, bytes, replays, failures, lag and checkpoint writes, once per invocation', async () => {
    const shardId = stream.shardIds[0];
    const published: ShardBatchStats[][] = [];
    const seqs = sequenceNumbers(4);
    const arrival = new Date(Date.now() - 5_000);
    const aggregated = aggregate([0, 1, 2].map((index) => ({ partitionKey: `k${index}`, data: Buffer.from('abc') })));
    const event = kinesisEvent(stream.streamArn, shardId, [
      { sequenceNumber: seqs[0], data: 'aaaa', arrival },
      { sequenceNumber: seqs[1], data: aggregated, arrival },
      { sequenceNumber: seqs[2], data: 'bb', arrival },
      { sequenceNumber: seqs[3], data: 'c', arrival },
    ]);
    let failAt: string | undefined = seqs[2];
    const handler = createKclHandler(
      () => ({
        initialize: () => undefined,
        shardEnded: () => undefined,
        processRecords: async ({ records, checkpointer }) => {
          for (const record of records) {
            if (record.sequenceNumber === failAt) throw new Error('fail');
            await checkpointer.checkpoint(record);
          }
        },
      }),
      { tableName, dynamoDb: harness.dynamoDb, kinesis: harness.kinesis, logger: memoryLogger() },
      { metrics: { publish: (stats) => void published.push(stats.map((shard) => ({ ...shard }))) } },
    );

    await handler(event);
    failAt = undefined;
    await handler(event); // Lambda's retry of the whole batch: the first 4 user records are replays

    expect(published).toHaveLength(2);
    const [first, second] = published.map((stats) => stats[0]);
    expect(first).toMatchObject({
      shardId,
      kinesisRecords: 4,
      kinesisBytes: 4 + aggregated.length + 2 + 1,
      userRecords: 6,
      duplicatesSkipped: 0,
      recordsFailed: 2,
      leaseLost: 0,
      shardEnded: 0,
    });
    expect(first.checkpointWriteMs).toHaveLength(4); // one per explicit checkpoint
    expect(first.millisBehindLatest).toBeGreaterThanOrEqual(5_000);
    expect(first.millisBehindLatest).toBeLessThan(60_000);
    expect(second).toMatchObject({ userRecords: 6, duplicatesSkipped: 4, recordsFailed: 0 });
  });

  test('the built-in EMF writer prints one parseable document per shard with the batch values', async () => {
    const shardId = stream.shardIds[0];
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const handler = withRecordHandler(() => undefined, {
        tableName,
        dynamoDb: harness.dynamoDb,
        kinesis: harness.kinesis,
        logger: memoryLogger(),
        applicationName: 'orders',
        metricsNamespace: 'KclTest',
      });
      await handler(kinesisEvent(stream.streamArn, shardId, sequenceNumbers(3).map((sequenceNumber) => ({ sequenceNumber, data: 'xy' }))));
    } finally {
      spy.mockRestore();
    }
    const documents = lines.filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line));
    expect(documents).toHaveLength(1);
    const [document] = documents;
    expect(document._aws.CloudWatchMetrics[0].Namespace).toBe('KclTest');
    expect(document._aws.CloudWatchMetrics[0].Dimensions).toEqual([['ApplicationName', 'ShardId'], ['ApplicationName']]);
    expect(document).toMatchObject({ ApplicationName: 'orders', ShardId: shardId, KinesisRecords: 3, KinesisBytes: 6, UserRecords: 3, RecordsFailed: 0 });
    const units = Object.fromEntries(document._aws.CloudWatchMetrics[0].Metrics.map((metric: { Name: string; Unit: string }) => [metric.Name, metric.Unit]));
    expect(units).toMatchObject({ KinesisBytes: 'Bytes', MillisBehindLatest: 'Milliseconds', CheckpointWriteTime: 'Milliseconds' });
  });
});
