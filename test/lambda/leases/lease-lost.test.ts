/**
 * leaseLost: whenever a conditional write shows that another writer holds the shard,
 * the processor hears leaseLost, is dropped, and the shard's next batch gets a fresh
 * processor and a fresh initialize. Against dynalite (and kinesalite for shard end);
 * the other writer is simulated by writing the row just before our write reaches it.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import {
  CheckpointError,
  type Checkpointer,
  type KclOptions,
  type KinesisUserRecord,
  ParentShardNotFinishedError,
  type RecordProcessor,
  withKclProcessor,
} from '../../../lambda';
import { putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import {
  type RuntimeHarness,
  type TestStream,
  kinesisEvent,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';

const failures = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

interface TrackedProcessor {
  readonly instance: number;
  readonly shardId: string;
  readonly calls: string[];
  checkpointer?: Checkpointer;
}

/** Processors that keep their own call log, so each instance can be told apart. */
function trackedProcessors(onRecords?: (records: readonly KinesisUserRecord[], checkpointer: Checkpointer, processor: TrackedProcessor) => Promise<void> | void) {
  const instances: TrackedProcessor[] = [];
  const factory = (shardId: string): RecordProcessor => {
    const tracked: TrackedProcessor = { instance: instances.length, shardId, calls: [] };
    instances.push(tracked);
    return {
      initialize: ({ extendedSequenceNumber }) => void tracked.calls.push(`initialize ${extendedSequenceNumber.sequenceNumber}`),
      processRecords: async ({ records, checkpointer }) => {
        tracked.calls.push(`processRecords ${records.length}`);
        tracked.checkpointer = checkpointer;
        await onRecords?.(records, checkpointer, tracked);
      },
      shardEnded: async ({ checkpointer }) => {
        tracked.calls.push('shardEnded');
        await checkpointer.checkpoint();
      },
      leaseLost: () => void tracked.calls.push('leaseLost'),
    };
  };
  const of = (shardId: string) => instances.filter((tracked) => tracked.shardId === shardId);
  return { instances, factory, of };
}

describe('leaseLost against dynalite', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;
  let shardId: string;
  let logger: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
    shardId = stream.shardIds[0];
  });
  afterAll(async () => harness.close());
  beforeEach(async () => {
    tableName = await harness.newTable();
    harness.fault = undefined;
    logger = memoryLogger();
  });

  const options = (extra: KclOptions = {}) => harness.options(tableName, { logger, ...extra });
  const event = (seqs: readonly string[]) => kinesisEvent(stream.streamArn, shardId, seqs.map((sequenceNumber) => ({ sequenceNumber })));

  /** Another worker writes `shard`'s row (checkpoint `at`) just before our next `command` for it reaches the table. */
  const otherWriterFirst = (command: 'UpdateItemCommand' | 'PutItemCommand', shard: string, at: string) => {
    let done = false;
    harness.fault = (commandName, input) => {
      const key = (input.Key ?? input.Item) as Record<string, AttributeValue> | undefined;
      if (commandName !== command || key?.leaseKey?.S !== shard || done) return undefined;
      return async () => {
        done = true;
        const current = await harness.row(tableName, shard);
        await harness.putRow(tableName, {
          leaseKey: { S: shard },
          checkpointSubSequenceNumber: { N: '0' },
          ownerSwitchesSinceCheckpoint: { N: '0' },
          ...current,
          checkpoint: { S: at },
          leaseCounter: { N: String(Number(current?.leaseCounter?.N ?? '0') + 1) },
          leaseOwner: { S: 'worker-2' },
        });
      };
    };
  };

  test('a lost end-of-batch write: leaseLost after processRecords, then a fresh instance and initialize at the winner’s checkpoint', async () => {
    const seqs = sequenceNumbers(8);
    const processors = trackedProcessors();
    const handler = withKclProcessor(processors.factory, options());
    await handler(event(seqs.slice(0, 2)));
    otherWriterFirst('UpdateItemCommand', shardId, seqs[3]);

    const response = await handler(event(seqs.slice(2, 6)));

    expect(failures(response)).toEqual([seqs[4]]); // only what the winner has not covered
    const [first] = processors.instances;
    expect(first.calls).toEqual(['initialize TRIM_HORIZON', 'processRecords 2', 'processRecords 4', 'leaseLost']);
    expect((await harness.row(tableName, shardId))?.leaseOwner).toEqual({ S: 'worker-2' });
    // The lost processor's checkpointer is dead.
    const late = await first.checkpointer?.checkpoint().catch((error: unknown) => error);
    expect((late as CheckpointError).code).toBe('ShutdownException');

    expect(failures(await handler(event(seqs.slice(4))))).toEqual([]);

    expect(processors.instances).toHaveLength(2);
    expect(processors.instances[1].calls).toEqual([`initialize ${seqs[3]}`, 'processRecords 4']);
    expect(first.calls).toHaveLength(4); // the old instance hears nothing more
    expect((await harness.row(tableName, shardId))?.checkpoint).toEqual({ S: seqs[7] });
  });

  test('a lost explicit checkpoint rethrown from processRecords still ends in leaseLost and a fresh initialize', async () => {
    const seqs = sequenceNumbers(6);
    const processors = trackedProcessors(async (records, checkpointer, tracked) => {
      if (tracked.instance === 0 && records.length > 1) {
        otherWriterFirst('UpdateItemCommand', shardId, seqs[2]);
        await checkpointer.checkpoint(records[records.length - 1]); // throws ShutdownException
      }
    });
    const handler = withKclProcessor(processors.factory, options());
    await handler(event(seqs.slice(0, 1)));

    const response = await handler(event(seqs.slice(1, 5)));

    expect(failures(response)).toEqual([seqs[3]]);
    expect(processors.instances[0].calls.slice(-1)).toEqual(['leaseLost']);
    await handler(event(seqs.slice(3)));
    expect(processors.instances[1].calls).toEqual([`initialize ${seqs[2]}`, 'processRecords 3']);
  });

  test('a lost race to create the row (after processRecords failed) is a lost lease too', async () => {
    const seqs = sequenceNumbers(4);
    const processors = trackedProcessors((_records, _checkpointer, tracked) => {
      if (tracked.instance === 0) throw new Error('downstream unavailable');
    });
    const handler = withKclProcessor(processors.factory, options());
    otherWriterFirst('PutItemCommand', shardId, seqs[1]);

    const response = await handler(event(seqs));

    expect(failures(response)).toEqual([seqs[2]]);
    expect(processors.instances[0].calls).toEqual(['initialize TRIM_HORIZON', 'processRecords 4', 'leaseLost']);
    await handler(event(seqs.slice(2)));
    expect(processors.instances[1].calls).toEqual([`initialize ${seqs[1]}`, 'processRecords 2']);
  });

  describe('while ending a parent shard', () => {
    /** A stream whose one shard (the parent, with records) was split; the parent is processed. */
    const processedParent = async (processors: ReturnType<typeof trackedProcessors>) => {
      const split = await harness.newStream(1);
      const parent = split.shardIds[0];
      const parentSeqs = (await putRecords(harness.kinesis, split.streamName, [{ data: 'a' }, { data: 'b' }], { shardId: parent })).map(
        (result) => result.sequenceNumber,
      );
      const [lower] = await splitShard(harness.kinesis, split.streamName, parent);
      await putRecords(harness.kinesis, split.streamName, [{ data: 'c' }], { shardId: lower });
      const handler = withKclProcessor(processors.factory, options());
      await handler(await readShardAsEvent(harness.kinesis, split.streamName, parent));
      return { handler, parent, parentSeqs, child: lower, childEvent: await readShardAsEvent(harness.kinesis, split.streamName, lower) };
    };

    test('lost to a writer that ended the parent: leaseLost, and the child goes on', async () => {
      const processors = trackedProcessors();
      const { handler, parent, child, childEvent } = await processedParent(processors);
      otherWriterFirst('UpdateItemCommand', parent, 'SHARD_END');

      expect(await handler(childEvent)).toEqual({ batchItemFailures: [] });

      expect(processors.of(parent)[0].calls).toEqual(['initialize TRIM_HORIZON', 'processRecords 2', 'shardEnded', 'leaseLost']);
      expect(await harness.row(tableName, parent)).toMatchObject({ checkpoint: { S: 'SHARD_END' }, leaseOwner: { S: 'worker-2' } });
      expect(processors.of(child)[0].calls).toEqual(['initialize TRIM_HORIZON', 'processRecords 1']);
    });

    test('lost to a worker that still holds the parent: leaseLost, the child waits with a clear error, the retry ends the parent afresh', async () => {
      const processors = trackedProcessors();
      const { handler, parent, parentSeqs, childEvent } = await processedParent(processors);
      otherWriterFirst('UpdateItemCommand', parent, parentSeqs[1]);

      const error = await handler(childEvent).then(
        () => undefined,
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(ParentShardNotFinishedError);
      expect((error as Error).message).toMatch(
        new RegExp(`parent shard ${parent} lost its lease while ending: another writer holds it at ${parentSeqs[1]}/0 by worker-2$`),
      );
      expect(processors.of(parent)[0].calls.slice(-2)).toEqual(['shardEnded', 'leaseLost']);

      expect(await handler(childEvent)).toEqual({ batchItemFailures: [] });
      expect(processors.of(parent)[1].calls).toEqual([`initialize ${parentSeqs[1]}`, 'shardEnded']);
      expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    });
  });
});
