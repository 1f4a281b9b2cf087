import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { type KclOptions, type KinesisUserRecord, withKclProcessor, withRecordHandler } from '../../../lambda';
import { aggregate } from './kpl-vectors';
import {
  type RuntimeHarness,
  type TestStream,
  kinesisEvent,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';

const failures = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);
const position = (record: KinesisUserRecord) => `${record.sequenceNumber}/${record.subSequenceNumber}`;

describe('KPL aggregates through the handler, checkpointed at sub-sequence granularity', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;
  let shardId: string;
  let logger: ReturnType<typeof memoryLogger>;
  const [aggregateSeq, plainSeq, nextSeq] = sequenceNumbers(3);
  const userRecords = Array.from({ length: 5 }, (_, index) => ({
    partitionKey: `key-${index}`,
    data: Buffer.from(`user-record-${index}`),
  }));
  const aggregateData = aggregate(userRecords);

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
    shardId = stream.shardIds[0];
  });
  afterAll(async () => harness.close());
  beforeEach(async () => {
    tableName = await harness.newTable();
    logger = memoryLogger();
  });

  const options = (extra: KclOptions = {}) => harness.options(tableName, { logger, ...extra });
  const batch = (...which: ('aggregate' | 'plain' | 'next')[]) =>
    kinesisEvent(
      stream.streamArn,
      shardId,
      which.map((kind) =>
        kind === 'aggregate'
          ? { sequenceNumber: aggregateSeq, data: aggregateData, partitionKey: 'outer' }
          : { sequenceNumber: kind === 'plain' ? plainSeq : nextSeq, data: `${kind}-record` },
      ),
    );

  test('user records reach the processor with sub-sequence numbers 0..n-1 and their own keys', async () => {
    const seen: KinesisUserRecord[] = [];
    const handler = withRecordHandler((record) => void seen.push(record), options());

    expect(await handler(batch('aggregate', 'plain'))).toEqual({ batchItemFailures: [] });

    expect(seen.map(position)).toEqual([0, 1, 2, 3, 4].map((sub) => `${aggregateSeq}/${sub}`).concat(`${plainSeq}/0`));
    expect(seen.slice(0, 5).map((record) => [record.partitionKey, record.data.toString(), record.aggregated])).toEqual(
      userRecords.map((record) => [record.partitionKey, record.data.toString(), true]),
    );
    expect(seen[5]).toMatchObject({ aggregated: false, partitionKey: 'pk', subSequenceNumber: 0 });
  });

  test('a failure at user record k: row holds (sequence, k-1), the retry delivers k.. only, then completes', async () => {
    const handled: string[] = [];
    let failOnce = true;
    const handler = withRecordHandler((record) => {
      handled.push(position(record));
      if (record.subSequenceNumber === 2 && failOnce) {
        failOnce = false;
        throw new Error('fail at user record 2');
      }
    }, options());

    const first = await handler(batch('aggregate', 'plain'));
    expect(failures(first)).toEqual([aggregateSeq]); // the aggregate's Kinesis sequence number
    const row = await harness.row(tableName, shardId);
    expect([row?.checkpoint?.S, row?.checkpointSubSequenceNumber?.N]).toEqual([aggregateSeq, '1']);

    handled.length = 0;
    const second = await handler(batch('aggregate', 'plain')); // Lambda re-delivers from the aggregate
    expect(failures(second)).toEqual([]);
    expect(handled).toEqual([`${aggregateSeq}/2`, `${aggregateSeq}/3`, `${aggregateSeq}/4`, `${plainSeq}/0`]);
    const done = await harness.row(tableName, shardId);
    expect([done?.checkpoint?.S, done?.checkpointSubSequenceNumber?.N]).toEqual([plainSeq, '0']);
  });

  test('checkpoint(userRecord) at the last user record of an aggregate, then the next Kinesis record in a later batch', async () => {
    const delivered: string[] = [];
    const handler = withKclProcessor(
      () => ({
        initialize: () => undefined,
        shardEnded: () => undefined,
        processRecords: async ({ records, checkpointer }) => {
          delivered.push(...records.map(position));
          await checkpointer.checkpoint(records[records.length - 1]);
        },
      }),
      options({ checkpointing: 'manual' }),
    );

    expect(failures(await handler(batch('aggregate')))).toEqual([]);
    const row = await harness.row(tableName, shardId);
    expect([row?.checkpoint?.S, row?.checkpointSubSequenceNumber?.N]).toEqual([aggregateSeq, '4']);

    expect(failures(await handler(batch('aggregate')))).toEqual([]); // a replay of the aggregate: nothing new
    expect(failures(await handler(batch('plain')))).toEqual([]);
    expect(delivered).toEqual([0, 1, 2, 3, 4].map((sub) => `${aggregateSeq}/${sub}`).concat(`${plainSeq}/0`));
  });

  test('a checkpoint inside an aggregate in manual mode reports the aggregate failed and resumes after the sub-sequence', async () => {
    const delivered: string[] = [];
    const handler = withKclProcessor(
      () => ({
        initialize: () => undefined,
        shardEnded: () => undefined,
        processRecords: async ({ records, checkpointer }) => {
          delivered.push(...records.map(position));
          // First time: stop inside the aggregate; afterwards: everything.
          const inside = records.find((record) => record.aggregated && record.subSequenceNumber === 2);
          await checkpointer.checkpoint(inside ?? records[records.length - 1]);
        },
      }),
      options({ checkpointing: 'manual' }),
    );

    expect(failures(await handler(batch('aggregate', 'plain')))).toEqual([aggregateSeq]);
    delivered.length = 0;
    expect(failures(await handler(batch('aggregate', 'plain')))).toEqual([]);
    expect(delivered).toEqual([`${aggregateSeq}/3`, `${aggregateSeq}/4`, `${plainSeq}/0`]);
  });

  test('deaggregate: false delivers the aggregate as one opaque record', async () => {
    const seen: KinesisUserRecord[] = [];
    const handler = withRecordHandler((record) => void seen.push(record), options({ deaggregate: false }));
    await handler(batch('aggregate'));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ sequenceNumber: aggregateSeq, subSequenceNumber: 0, aggregated: false });
    expect(Buffer.compare(seen[0].data, aggregateData)).toBe(0);
  });

  test('a corrupt aggregate is delivered as one plain record with one warning naming its sequence number', async () => {
    const corrupt = Buffer.from(aggregateData);
    corrupt[corrupt.length - 1] ^= 0xff; // break the MD5 trailer
    const seen: KinesisUserRecord[] = [];
    const handler = withRecordHandler((record) => void seen.push(record), options());

    const response = await handler(
      kinesisEvent(stream.streamArn, shardId, [{ sequenceNumber: aggregateSeq, data: corrupt }, { sequenceNumber: plainSeq }]),
    );

    expect(failures(response)).toEqual([]);
    expect(seen.map(position)).toEqual([`${aggregateSeq}/0`, `${plainSeq}/0`]);
    expect(Buffer.compare(seen[0].data, corrupt)).toBe(0);
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain(aggregateSeq);
  });
});
