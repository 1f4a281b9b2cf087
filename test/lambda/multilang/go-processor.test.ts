/**
 * A processor that behaves like the Go KCL client (KCL 1.x dialect: late checkpoints
 * sent after the status, `shutdown` TERMINATE/ZOMBIE, "shutdown" as the answer to
 * shutdownRequested, exit right after it) through withMultiLangProcessor and the
 * engine, against dynalite and kinesalite. The fixture is compiled with `go build`
 * into a temporary folder (a static binary, as it would ship in a function's zip).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type KclOptions, type MultiLangProcessorOptions, withMultiLangProcessor } from '../../../lambda';
import { putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import {
  type RuntimeHarness,
  type TestStream,
  kinesisEvent,
  lambdaContext,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';
import { FixtureJournals, type Journal, type JournalEntry, buildGoFixture, failures, loggedText } from './multilang-harness';

describe('a Go-client-style processor (kcl1 dialect) through withMultiLangProcessor', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let shardId: string;
  let tableName: string;
  let journal: Journal;
  let logger: ReturnType<typeof memoryLogger>;
  let binary: string;
  const journals = new FixtureJournals();
  const seqs = sequenceNumbers(12);

  beforeAll(async () => {
    binary = buildGoFixture(journals.dir);
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
    shardId = stream.shardIds[0];
  }, 180_000);
  afterAll(async () => {
    await harness?.close();
    journals.remove();
  });
  beforeEach(async () => {
    tableName = await harness.newTable();
    harness.fault = undefined;
    journal = journals.next();
    logger = memoryLogger();
  });
  afterEach(() => expect(journal.of('retryStorm')).toEqual([]));

  const handlerFor = (extra: KclOptions = {}, options: Partial<MultiLangProcessorOptions> = {}) =>
    withMultiLangProcessor(
      { command: [binary], dialect: 'kcl1', env: { KCL_FIXTURE_JOURNAL: journal.path }, onOutput: journal.onOutput, ...options },
      harness.options(tableName, { logger, ...extra }),
    );
  const batch = (from: number, ...commands: string[]) =>
    kinesisEvent(stream.streamArn, shardId, commands.map((data, index) => ({ sequenceNumber: seqs[from + index], data })));
  const position = async (shard = shardId) => {
    const item = await harness.row(tableName, shard);
    return [item?.checkpoint?.S, item?.checkpointSubSequenceNumber?.N];
  };
  const delivered = (entry: JournalEntry) => (entry.records as [string, number][]).map(([seq, sub]) => `${seq}/${sub}`);
  const logged = (text: string) => loggedText(logger.lines).some((line) => line.includes(text));
  const takeOverBeforeNextWrite = (at: string) => {
    let done = false;
    harness.fault = (commandName, input) => {
      const key = input.Key as Record<string, AttributeValue> | undefined;
      if (commandName !== 'UpdateItemCommand' || key?.leaseKey?.S !== shardId || done) return undefined;
      return async () => {
        done = true;
        const current = await harness.row(tableName, shardId);
        await harness.putRow(tableName, {
          ...current,
          leaseKey: { S: shardId },
          checkpoint: { S: at },
          checkpointSubSequenceNumber: { N: '0' },
          leaseCounter: { N: String(Number(current?.leaseCounter?.N ?? '0') + 1) },
          leaseOwner: { S: 'worker-2' },
        });
      };
    };
  };

  test('late checkpoints (sent after the status) are answered during the next call and never fail a batch', async () => {
    const handler = handlerFor();
    expect(failures(await handler(batch(0, 'ok', 'checkpoint')))).toEqual([]);
    expect(failures(await handler(batch(2, 'ok', 'checkpoint', 'ok')))).toEqual([]);
    expect(failures(await handler(batch(5, 'ok')))).toEqual([]);
    expect(await position()).toEqual([seqs[5], '0']);
    // Each late checkpoint names a record the engine had already checkpointed: answered as done.
    expect(journal.of('checkpoint').map((entry) => [entry.args, entry.error])).toEqual([
      [[seqs[1], 0], null],
      [[seqs[3], 0], null],
    ]);
    expect(journal.of('processRecords').map(delivered)).toEqual([
      [`${seqs[0]}/0`, `${seqs[1]}/0`],
      [`${seqs[2]}/0`, `${seqs[3]}/0`, `${seqs[4]}/0`],
      [`${seqs[5]}/0`],
    ]);
    expect(journal.pids()).toHaveLength(1);
    expect(journal.of('initialize')[0]).toMatchObject({ shardId, sequenceNumber: 'TRIM_HORIZON' });
  });

  test('shard end on a real split: shutdown TERMINATE, the final checkpoint without a sequence number records SHARD_END; the reply after its clean exit (EPIPE) does not fail the batch', async () => {
    const split = await harness.newStream(1);
    const parent = split.shardIds[0];
    await putRecords(harness.kinesis, split.streamName, [{ data: 'ok' }, { data: 'checkpoint' }], { shardId: parent });
    const handler = handlerFor();
    expect(failures(await handler(await readShardAsEvent(harness.kinesis, split.streamName, parent)))).toEqual([]);
    const [child] = await splitShard(harness.kinesis, split.streamName, parent);
    await putRecords(harness.kinesis, split.streamName, [{ data: 'ok' }], { shardId: child });

    expect(failures(await handler(await readShardAsEvent(harness.kinesis, split.streamName, child)))).toEqual([]);
    expect(await position(parent)).toEqual(['SHARD_END', '0']);
    expect(journal.of('shutdown')).toEqual([expect.objectContaining({ reason: 'TERMINATE' })]);
    expect(journal.of('initialize').map((entry) => entry.shardId)).toEqual([parent, child]);
    // The parent's child exited right after its status, before the reply to its final checkpoint could be read.
    expect(journal.of('eof')).toEqual([]);
  });

  test('lease lost: shutdown ZOMBIE; the next batch starts a new child at the winner’s checkpoint', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'ok'));
    takeOverBeforeNextWrite(seqs[1]);
    expect(failures(await handler(batch(1, 'ok', 'ok')))).toEqual([seqs[2]]);
    expect(journal.of('shutdown')).toEqual([expect.objectContaining({ reason: 'ZOMBIE' })]);

    expect(failures(await handler(batch(2, 'ok')))).toEqual([]);
    expect(journal.of('initialize').at(-1)).toMatchObject({ sequenceNumber: seqs[1] });
    expect(journal.pids()).toHaveLength(2);
  });

  test('the timeout guard: shutdownRequested is answered as "shutdown"; the late checkpoint it sent first counts', async () => {
    const handler = handlerFor({ timeoutGuardMs: 5_000 });
    const response = await handler(batch(0, 'ok', 'sleep:3000', 'checkpoint'), lambdaContext(7_000));
    expect(failures(response)).toEqual([]);
    expect(journal.of('shutdown')).toEqual([expect.objectContaining({ reason: 'SHUTDOWN_REQUESTED' })]);
    expect(await position()).toEqual([seqs[2], '0']);
    expect(logged('failed in shutdownRequested')).toBe(false);
  });

  test('the wrong dialect: the Go client never answers leaseLost, and the invocation still answers at the deadline', async () => {
    const handler = handlerFor({}, { dialect: 'kcl2' });
    await handler(batch(0, 'ok'));
    takeOverBeforeNextWrite(seqs[1]);
    expect(failures(await handler(batch(1, 'ok', 'ok'), lambdaContext(2_000)))).toEqual([seqs[2]]);
    expect(logged("no answer to leaseLost before the invocation's deadline")).toBe(true);
    expect(journal.output.some((out) => out.stream === 'stderr' && out.line.includes("no recognizable 'action'"))).toBe(true);
  });
});
