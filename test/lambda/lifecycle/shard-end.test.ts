/**
 * Shard end and parent-before-child on a real emulated stream: SplitShard and
 * MergeShards on kinesalite, leases in dynalite, the handler driven with the
 * Lambda events read back from each shard.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  type KclOptions,
  type KinesisBatchHandler,
  ParentShardNotFinishedError,
  type RecordProcessor,
  withKclProcessor,
} from '../../../lambda';
import { localKinesisClient } from '../../../local/emulators/emulators';
import { mergeShards, putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import { type RuntimeHarness, type TestStream, awsError, memoryLogger, startRuntimeHarness } from '../../support/runtime-harness';

/** Every lifecycle call of every processor, in order, across containers. */
interface JournalEntry {
  readonly container: string;
  readonly shardId: string;
  readonly call: 'initialize' | 'processRecords' | 'shardEnded' | 'leaseLost' | 'shutdownRequested';
  /** initialize: the checkpoint it was given; processRecords: the sequence numbers delivered. */
  readonly detail?: string | string[];
}

type ShardEndBehaviour = 'checkpoint' | 'forget' | 'throw' | 'initializeThrows';

describe('shard end and parent-before-child against kinesalite and dynalite', () => {
  let harness: RuntimeHarness;
  let tableName: string;
  let journal: JournalEntry[];
  let logger: ReturnType<typeof memoryLogger>;
  const extraClients: KinesisClient[] = [];

  beforeAll(async () => {
    harness = await startRuntimeHarness();
  });
  afterAll(async () => {
    for (const client of extraClients) client.destroy();
    await harness.close();
  });
  beforeEach(async () => {
    tableName = await harness.newTable();
    journal = [];
    logger = memoryLogger();
  });

  /** A handler instance stands for one Lambda container with its own processors. */
  const container = (name: string, shardEnd: ShardEndBehaviour = 'checkpoint', extra: KclOptions = {}) => {
    const created: string[] = [];
    const factory = (shardId: string): RecordProcessor => {
      created.push(shardId);
      const log = (call: JournalEntry['call'], detail?: JournalEntry['detail']) => void journal.push({ container: name, shardId, call, detail });
      return {
        initialize: ({ extendedSequenceNumber }) => {
          log('initialize', extendedSequenceNumber.sequenceNumber);
          if (shardEnd === 'initializeThrows') throw new Error('no connection to the sink');
        },
        processRecords: ({ records }) => log('processRecords', records.map((record) => record.sequenceNumber)),
        shardEnded: async ({ checkpointer }) => {
          log('shardEnded');
          if (shardEnd === 'throw') throw new Error('flush to the sink failed');
          if (shardEnd === 'checkpoint') await checkpointer.checkpoint();
        },
        leaseLost: () => log('leaseLost'),
      };
    };
    const options = harness.options(tableName, { logger, ...extra });
    return { handler: withKclProcessor(factory, options), created };
  };

  const put = async (stream: TestStream, shardId: string, count: number, label: string) =>
    (await putRecords(harness.kinesis, stream.streamName, Array.from({ length: count }, (_, index) => ({ data: `${label}-${index}` })), { shardId })).map(
      (result) => result.sequenceNumber,
    );
  const eventOf = (stream: TestStream, shardId: string): Promise<KinesisStreamEvent> =>
    readShardAsEvent(harness.kinesis, stream.streamName, shardId);
  const run = async (handler: KinesisBatchHandler, stream: TestStream, shardId: string) => {
    const event = await eventOf(stream, shardId);
    expect(event.Records.length).toBeGreaterThan(0);
    return handler(event);
  };
  const calls = (shardId: string, call: JournalEntry['call']) => journal.filter((entry) => entry.shardId === shardId && entry.call === call);
  const positionOf = (predicate: (entry: JournalEntry) => boolean) => journal.findIndex(predicate);
  const lastPositionOf = (predicate: (entry: JournalEntry) => boolean) => journal.map(predicate).lastIndexOf(true);
  const rejection = async (promise: Promise<unknown>): Promise<ParentShardNotFinishedError> => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ParentShardNotFinishedError);
    return error as ParentShardNotFinishedError;
  };

  test('split: the parent is ended exactly once, after its last record and before any child record; rows carry SHARD_END and parentShardId', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const parentSeqs = await put(stream, parent, 3, 'before');
    const [lower, upper] = await splitShard(harness.kinesis, stream.streamName, parent);
    const lowerSeqs = await put(stream, lower, 2, 'after-lower');
    const upperSeqs = await put(stream, upper, 2, 'after-upper');
    const { handler, created } = container('A');

    expect(await run(handler, stream, parent)).toEqual({ batchItemFailures: [] });
    expect(await run(handler, stream, lower)).toEqual({ batchItemFailures: [] });
    expect(await run(handler, stream, upper)).toEqual({ batchItemFailures: [] });

    expect(calls(parent, 'shardEnded')).toHaveLength(1);
    const ended = positionOf((entry) => entry.shardId === parent && entry.call === 'shardEnded');
    expect(ended).toBeGreaterThan(lastPositionOf((entry) => entry.shardId === parent && entry.call === 'processRecords'));
    expect(ended).toBeLessThan(positionOf((entry) => entry.shardId !== parent && entry.call === 'processRecords'));
    // The processor that handled the parent's records is the one that is ended: no second instance.
    expect(created.filter((shardId) => shardId === parent)).toHaveLength(1);
    expect(calls(parent, 'initialize')).toHaveLength(1);
    expect(journal.filter((entry) => entry.call === 'processRecords').map((entry) => entry.detail)).toEqual([parentSeqs, lowerSeqs, upperSeqs]);

    const parentRow = await harness.row(tableName, parent);
    expect(parentRow?.checkpoint).toEqual({ S: 'SHARD_END' });
    expect(parentRow?.checkpointSubSequenceNumber).toEqual({ N: '0' });
    expect(parentRow?.parentShardId).toBeUndefined();
    for (const [child, seqs] of [[lower, lowerSeqs], [upper, upperSeqs]] as const) {
      const row = await harness.row(tableName, child);
      expect(row?.parentShardId).toEqual({ SS: [parent] });
      expect(row?.checkpoint).toEqual({ S: seqs[seqs.length - 1] });
    }
  });

  test('a child that stayed empty and was split again: its parent and itself are both ended before the grandchild', async () => {
    // Found by the property tests: the grandparent used to be skipped when the child between had no batch.
    const stream = await harness.newStream(1);
    const root = stream.shardIds[0];
    await put(stream, root, 2, 'root');
    const [empty] = await splitShard(harness.kinesis, stream.streamName, root);
    const [grandchild] = await splitShard(harness.kinesis, stream.streamName, empty);
    const grandchildSeqs = await put(stream, grandchild, 2, 'grandchild');
    const { handler } = container('A');

    await run(handler, stream, root);
    expect(await run(handler, stream, grandchild)).toEqual({ batchItemFailures: [] });

    expect(calls(root, 'shardEnded')).toHaveLength(1);
    expect(calls(empty, 'shardEnded')).toHaveLength(1);
    const rootEnded = positionOf((entry) => entry.shardId === root && entry.call === 'shardEnded');
    const emptyEnded = positionOf((entry) => entry.shardId === empty && entry.call === 'shardEnded');
    expect(rootEnded).toBeLessThan(emptyEnded);
    expect(emptyEnded).toBeLessThan(positionOf((entry) => entry.shardId === grandchild && entry.call === 'processRecords'));
    expect((await harness.row(tableName, root))?.checkpoint).toEqual({ S: 'SHARD_END' });
    expect(await harness.row(tableName, empty)).toMatchObject({ checkpoint: { S: 'SHARD_END' }, parentShardId: { SS: [root] } });
    expect(await harness.row(tableName, grandchild)).toMatchObject({
      checkpoint: { S: grandchildSeqs[1] },
      parentShardId: { SS: [empty] },
    });
  });

  test('startingPosition LATEST: a parent Lambda never delivered from (only older records) is ended, not waited for', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await put(stream, parent, 3, 'before-the-mapping');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    const lowerSeqs = await put(stream, lower, 2, 'after');

    // The default (TRIM_HORIZON) must wait: those records are still to come.
    await rejection(run(container('A').handler, stream, lower));

    const { handler } = container('B', 'checkpoint', { startingPosition: 'LATEST' });
    expect(await run(handler, stream, lower)).toEqual({ batchItemFailures: [] });
    expect(calls(parent, 'shardEnded')).toHaveLength(1);
    expect(calls(parent, 'processRecords')).toHaveLength(0);
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    expect((await harness.row(tableName, lower))?.checkpoint).toEqual({ S: lowerSeqs[1] });
  });

  test('startingPosition AT_TIMESTAMP: only a parent’s records from that time on must be processed first', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await put(stream, parent, 2, 'old');
    // kinesalite's arrival times may be rounded down to the second: keep a whole
    // second of margin on both sides of the starting time.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const startedAt = new Date(Date.now() - 1_000);
    await put(stream, parent, 1, 'new');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'child');
    const options: KclOptions = { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: startedAt };

    const blocked = await rejection(run(container('A', 'checkpoint', options).handler, stream, lower));
    expect(blocked.message).toContain(parent);

    // Lambda delivers the parent from the timestamp: only the new record.
    const { handler } = container('B', 'checkpoint', options);
    const fromTimestamp = await eventOf(stream, parent);
    fromTimestamp.Records = fromTimestamp.Records.filter((record) => record.kinesis.approximateArrivalTimestamp * 1000 >= startedAt.getTime());
    expect(fromTimestamp.Records).toHaveLength(1);
    expect(await handler(fromTimestamp)).toEqual({ batchItemFailures: [] });
    expect(await run(handler, stream, lower)).toEqual({ batchItemFailures: [] });
    expect(calls(parent, 'shardEnded')).toHaveLength(1);
  });

  test('a parent whose unread tail Lambda discarded by record age does not block its child for ever', async () => {
    // Found by the generated histories: with MaximumRecordAgeInSeconds, Lambda discards a
    // parent's old tail without delivering it, so nothing would ever drain the parent.
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await put(stream, parent, 2, 'old');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'child');
    const childEvent = await eventOf(stream, lower);
    const parentArrival = (await eventOf(stream, parent)).Records[1].kinesis.approximateArrivalTimestamp;
    /** The child's record as if it had arrived `seconds` after the parent's last one. */
    const arrivingAfter = (seconds: number): KinesisStreamEvent => ({
      Records: childEvent.Records.map((record) => ({ ...record, kinesis: { ...record.kinesis, approximateArrivalTimestamp: parentArrival + seconds } })),
    });
    const ageOptions: KclOptions = { maxRecordAgeSeconds: 60 };

    // Without a record age Lambda never discards: the parent's records must come first.
    await rejection(container('A').handler(arrivingAfter(3600)));
    // Within the age (plus Lambda's longest function timeout for a batch still running): still waiting.
    await rejection(container('B', 'checkpoint', ageOptions).handler(arrivingAfter(60 + 14 * 60)));
    expect(journal).toEqual([]);

    // Past it: the parent's tail can never be delivered; the parent is ended and the child runs.
    const { handler } = container('C', 'checkpoint', ageOptions);
    expect(await handler(arrivingAfter(60 + 16 * 60))).toEqual({ batchItemFailures: [] });
    expect(calls(parent, 'processRecords')).toEqual([]);
    expect(calls(parent, 'shardEnded')).toHaveLength(1);
    expect(calls(lower, 'processRecords')).toHaveLength(1);
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
  });

  test('merge: both parents are ended once each before the child; the child row names both parents', async () => {
    const stream = await harness.newStream(2);
    const [left, right] = stream.shardIds;
    await put(stream, left, 2, 'left');
    await put(stream, right, 3, 'right');
    const child = await mergeShards(harness.kinesis, stream.streamName, left, right);
    const childSeqs = await put(stream, child, 2, 'merged');
    const { handler } = container('A');

    await run(handler, stream, left);
    await run(handler, stream, right);
    expect(await run(handler, stream, child)).toEqual({ batchItemFailures: [] });

    expect(journal.filter((entry) => entry.call === 'shardEnded').map((entry) => entry.shardId)).toEqual([left, right]);
    const firstChildRecord = positionOf((entry) => entry.shardId === child && entry.call === 'processRecords');
    for (const parent of [left, right]) {
      expect(positionOf((entry) => entry.shardId === parent && entry.call === 'shardEnded')).toBeLessThan(firstChildRecord);
      expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    }
    const childRow = await harness.row(tableName, child);
    expect([...(childRow?.parentShardId?.SS ?? [])].sort()).toEqual([left, right].sort());
    expect(childRow?.checkpoint).toEqual({ S: childSeqs[1] });
  });

  test('an undrained parent blocks its child with an error naming the parent and why; the retry after the parent proceeds', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const parentSeqs = await put(stream, parent, 3, 'before');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    const lowerSeqs = await put(stream, lower, 2, 'after');
    const { handler, created } = container('A');
    const childEvent = await eventOf(stream, lower);

    const error = await rejection(handler(childEvent));
    expect(error).toMatchObject({ childShardId: lower, parentShardId: parent });
    expect(error.message).toBe(
      `Shard ${lower} cannot start: parent shard ${parent} has unprocessed records after its checkpoint TRIM_HORIZON ` +
        `(next: ${parentSeqs[0]}/0); the child waits until the parent is drained`,
    );
    expect(created).toEqual([]);
    expect(journal).toEqual([]);
    expect(await harness.row(tableName, lower)).toBeUndefined();

    // Half the parent done is still undrained: the next unprocessed record is named.
    const parentEvent = await eventOf(stream, parent);
    await handler({ Records: parentEvent.Records.slice(0, 2) });
    expect((await rejection(handler(childEvent))).message).toContain(`after its checkpoint ${parentSeqs[1]}/0 (next: ${parentSeqs[2]}/0)`);
    expect(calls(lower, 'processRecords')).toEqual([]);

    await handler(parentEvent);
    expect(await handler(childEvent)).toEqual({ batchItemFailures: [] });
    expect(calls(parent, 'shardEnded')).toHaveLength(1);
    expect(calls(lower, 'processRecords').map((entry) => entry.detail)).toEqual([lowerSeqs]);
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
  });

  test('merge with one parent drained and the other not: the drained one is ended, the child waits for the other', async () => {
    const stream = await harness.newStream(2);
    const [left, right] = stream.shardIds;
    await put(stream, left, 1, 'left');
    await put(stream, right, 1, 'right');
    const child = await mergeShards(harness.kinesis, stream.streamName, left, right);
    await put(stream, child, 1, 'merged');
    const { handler } = container('A');
    await run(handler, stream, left);
    const childEvent = await eventOf(stream, child);

    const error = await rejection(handler(childEvent));
    expect(error.parentShardId).toBe(right);
    expect((await harness.row(tableName, left))?.checkpoint).toEqual({ S: 'SHARD_END' });

    await run(handler, stream, right);
    expect(await handler(childEvent)).toEqual({ batchItemFailures: [] });
    expect(journal.filter((entry) => entry.call === 'shardEnded').map((entry) => entry.shardId)).toEqual([left, right]);
  });

  test('a processor that does not checkpoint in shardEnded blocks the child with a clear message', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await put(stream, parent, 2, 'before');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'after');
    const forgetful = container('A', 'forget');
    await run(forgetful.handler, stream, parent);
    const parentCheckpoint = (await harness.row(tableName, parent))?.checkpoint;
    const childEvent = await eventOf(stream, lower);

    const error = await rejection(forgetful.handler(childEvent));
    expect(error.message).toBe(
      `Shard ${lower} cannot start: parent shard ${parent} is drained but its processor did not checkpoint in shardEnded ` +
        '(call checkpointer.checkpoint() there)',
    );
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual(parentCheckpoint);
    expect(calls(lower, 'initialize')).toEqual([]);
    expect(await harness.row(tableName, lower)).toBeUndefined();

    // Still blocked on the next retry; a fixed deployment then proceeds.
    await rejection(forgetful.handler(childEvent));
    const fixed = container('B');
    expect(await fixed.handler(childEvent)).toEqual({ batchItemFailures: [] });
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
  });

  test('a processor whose shardEnded throws blocks the child, naming the parent and the error', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'after');
    const { handler } = container('A', 'throw');

    const error = await rejection(handler(await eventOf(stream, lower)));
    expect(error.message).toBe(`Shard ${lower} cannot start: parent shard ${parent} failed in shardEnded: Error: flush to the sink failed`);
    expect(await harness.row(tableName, parent)).toBeUndefined();
  });

  test('a fresh processor whose initialize throws blocks the child, naming the parent and the step', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'after');
    const { handler } = container('A', 'initializeThrows');

    const error = await rejection(handler(await eventOf(stream, lower)));
    expect(error.message).toBe(`Shard ${lower} cannot start: parent shard ${parent} failed in initialize: Error: no connection to the sink`);
    expect(calls(parent, 'shardEnded')).toEqual([]);
    expect(await harness.row(tableName, parent)).toBeUndefined();
  });

  test('a drained parent processed in another container is ended by the child’s container with a fresh processor', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const parentSeqs = await put(stream, parent, 3, 'before');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'after');
    const first = container('A');
    const second = container('B');

    await run(first.handler, stream, parent);
    expect(await run(second.handler, stream, lower)).toEqual({ batchItemFailures: [] });

    expect(journal.filter((entry) => entry.container === 'B').map((entry) => [entry.shardId, entry.call, entry.detail])).toEqual([
      [parent, 'initialize', parentSeqs[2]],
      [parent, 'shardEnded', undefined],
      [lower, 'initialize', 'TRIM_HORIZON'],
      [lower, 'processRecords', [expect.any(String)]],
    ]);
    expect(calls(parent, 'shardEnded').map((entry) => entry.container)).toEqual(['B']);
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
  });

  test('an empty parent without a lease row is ended with a fresh processor and gets its SHARD_END row', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    await put(stream, lower, 1, 'after');
    const { handler } = container('A');

    expect(await run(handler, stream, lower)).toEqual({ batchItemFailures: [] });

    expect(journal.slice(0, 2).map((entry) => [entry.shardId, entry.call, entry.detail])).toEqual([
      [parent, 'initialize', 'TRIM_HORIZON'],
      [parent, 'shardEnded', undefined],
    ]);
    expect(await harness.row(tableName, parent)).toMatchObject({ checkpoint: { S: 'SHARD_END' }, leaseCounter: { N: '1' } });
  });

  test('a parent with no lease row that no longer exists (aged out) does not block its child', async () => {
    // kinesalite cannot age a shard out of retention (24 h at least), so this real client
    // answers GetShardIterator for the parent as Kinesis does for a trimmed shard, while
    // ListShards still names it as the child's parent.
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await put(stream, parent, 2, 'trimmed'); // records that would block if the parent still existed
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    const lowerSeqs = await put(stream, lower, 2, 'after');
    const kinesis = localKinesisClient(harness.kinesisEndpoint);
    extraClients.push(kinesis);
    kinesis.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ShardId?: string };
        if (context.commandName === 'GetShardIteratorCommand' && input.ShardId === parent) {
          throw awsError('ResourceNotFoundException', `Shard ${parent} in stream ${stream.streamName} under account 000000000000 does not exist`);
        }
        return next(args);
      },
      { step: 'initialize', name: 'parentAgedOut' },
    );
    const { handler } = container('A', 'checkpoint', { kinesis });

    expect(await run(handler, stream, lower)).toEqual({ batchItemFailures: [] });

    expect(calls(parent, 'shardEnded')).toEqual([]);
    expect(calls(lower, 'processRecords').map((entry) => entry.detail)).toEqual([lowerSeqs]);
    expect(await harness.row(tableName, parent)).toBeUndefined();
    expect((await harness.row(tableName, lower))?.parentShardId).toEqual({ SS: [parent] });
    expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes(`Parent shard ${parent} no longer exists`))).toBe(true);
  });

  test('a child whose row exists does not look at its parents again', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await put(stream, parent, 1, 'before');
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    const lowerSeqs = await put(stream, lower, 2, 'after');
    const { handler } = container('A');
    await run(handler, stream, parent);
    const childEvent = await eventOf(stream, lower);
    await handler({ Records: childEvent.Records.slice(0, 1) });
    harness.requests.length = 0;

    await handler({ Records: childEvent.Records.slice(1) });

    expect(harness.requests).toEqual(['GetItemCommand', 'UpdateItemCommand']);
    expect(calls(parent, 'shardEnded')).toHaveLength(1);
    expect((await harness.row(tableName, lower))?.checkpoint).toEqual({ S: lowerSeqs[1] });
  });
});
