import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { KclConfigurationError, type KclOptions, type KinesisUserRecord, withRecordHandler } from '../../lambda';
import {
  type RuntimeHarness,
  type TestStream,
  kinesisEvent,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../support/runtime-harness';

const failures = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

describe('withRecordHandler against dynalite', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;
  let shardId: string;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
    shardId = stream.shardIds[0];
  });
  afterAll(async () => harness.close());
  beforeEach(async () => {
    tableName = await harness.newTable();
    harness.requests.length = 0;
  });

  const options = (): KclOptions => harness.options(tableName, { logger: memoryLogger() });
  const event = (seqs: readonly string[]) =>
    kinesisEvent(stream.streamArn, shardId, seqs.map((sequenceNumber) => ({ sequenceNumber, data: `value-${sequenceNumber}` })));

  test('handles every record in order with decoded data and checkpoints once at the end', async () => {
    const seqs = sequenceNumbers(4);
    const seen: KinesisUserRecord[] = [];
    const handler = withRecordHandler((record) => void seen.push(record), options());

    expect(await handler(event(seqs))).toEqual({ batchItemFailures: [] });

    expect(seen.map((record) => record.sequenceNumber)).toEqual(seqs);
    expect(seen.map((record) => record.data.toString())).toEqual(seqs.map((seq) => `value-${seq}`));
    expect(seen[0]).toMatchObject({ shardId, subSequenceNumber: 0, aggregated: false, partitionKey: 'pk' });
    expect(harness.requests).toEqual(['GetItemCommand', 'PutItemCommand']);
  });

  test('stops at the first failure, checkpoints what came before, and a retry resumes at the failed record', async () => {
    const seqs = sequenceNumbers(5);
    const handled: string[] = [];
    let failOnce = true;
    const handler = withRecordHandler(async (record) => {
      handled.push(record.sequenceNumber);
      if (record.sequenceNumber === seqs[2] && failOnce) {
        failOnce = false;
        throw new Error('transient failure');
      }
    }, options());

    const first = await handler(event(seqs));
    expect(failures(first)).toEqual([seqs[2]]);
    expect(handled).toEqual(seqs.slice(0, 3)); // records after the failure are not touched
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[1] });

    // Lambda re-delivers from the reported record; a full replay is skipped up to the checkpoint too.
    const second = await handler(event(seqs));
    expect(failures(second)).toEqual([]);
    expect(handled).toEqual([...seqs.slice(0, 3), ...seqs.slice(2)]);
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[4] });
  });

  test('a failure at the first record reports the whole batch and writes only the initial lease row', async () => {
    const seqs = sequenceNumbers(3);
    const handler = withRecordHandler(() => {
      throw new Error('poison');
    }, options());

    expect(failures(await handler(event(seqs)))).toEqual([seqs[0]]);
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: 'TRIM_HORIZON' });
  });

  test("refuses checkpointing: 'manual' with a clear error", () => {
    expect(() => withRecordHandler(() => undefined, { checkpointing: 'manual' })).toThrow(KclConfigurationError);
    expect(() => withRecordHandler(() => undefined, { checkpointing: 'manual' })).toThrow(/needs withKclProcessor/);
  });
});
