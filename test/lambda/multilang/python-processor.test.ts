/**
 * An amazon_kclpy-style processor (Python, standard library only, kclpy's strict
 * parsing) through withMultiLangProcessor and the engine, against dynalite and
 * kinesalite: checkpoints, replays, KCL error names, KPL sub-sequences, a child that
 * exits, hangs or breaks the protocol, the timeout guard, lease lost, shard end.
 */
import { spawnSync } from 'node:child_process';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type KclOptions,
  KclConfigurationError,
  type MultiLangProcessorOptions,
  withMultiLangProcessor,
} from '../../../lambda';
import { aggregate } from '../records/kpl-vectors';
import { putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import {
  type RuntimeHarness,
  type SyntheticRecord,
  type TestStream,
  kinesisEvent,
  lambdaContext,
  memoryLogger,
  sequenceNumbers,
  startRuntimeHarness,
} from '../../support/runtime-harness';
import { FixtureJournals, type Journal, type JournalEntry, PYTHON_FIXTURE, failures, loggedText } from './multilang-harness';

describe('a kclpy-style Python processor through withMultiLangProcessor', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  let shardId: string;
  let tableName: string;
  let journal: Journal;
  let logger: ReturnType<typeof memoryLogger>;
  const journals = new FixtureJournals();
  const seqs = sequenceNumbers(12);

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
    shardId = stream.shardIds[0];
  });
  afterAll(async () => {
    await harness.close();
    journals.remove();
  });
  beforeEach(async () => {
    tableName = await harness.newTable();
    harness.fault = undefined;
    journal = journals.next();
    logger = memoryLogger();
  });
  afterEach(() => journal.expectNoFatal());

  const handlerFor = (extra: KclOptions = {}, options: Partial<MultiLangProcessorOptions> = {}) =>
    withMultiLangProcessor(
      {
        command: ['python3', '-S', PYTHON_FIXTURE],
        env: { KCL_FIXTURE_JOURNAL: journal.path },
        onOutput: journal.onOutput,
        ...options,
      },
      harness.options(tableName, { logger, ...extra }),
    );
  /** Records `seqs[from..]` with these data commands. */
  const batch = (from: number, ...commands: (string | Buffer)[]) =>
    kinesisEvent(
      stream.streamArn,
      shardId,
      commands.map((data, index): SyntheticRecord => ({ sequenceNumber: seqs[from + index], data })),
    );
  const logged = (text: string) => loggedText(logger.lines).some((line) => line.includes(text));
  const row = () => harness.row(tableName, shardId);
  const position = async () => {
    const item = await row();
    return [item?.checkpoint?.S, item?.checkpointSubSequenceNumber?.N];
  };
  const delivered = (entry: JournalEntry) => (entry.records as [string, number, string][]).map(([seq, sub]) => `${seq}/${sub}`);

  test('delivers each batch to one reused child and checkpoints at its end; non-protocol stdout is skipped and forwarded', async () => {
    const handler = handlerFor();
    expect(failures(await handler(batch(0, 'ok', 'garbage', 'ok')))).toEqual([]);
    expect(await position()).toEqual([seqs[2], '0']);
    expect(failures(await handler(batch(3, 'ok')))).toEqual([]);
    expect(await position()).toEqual([seqs[3], '0']);

    const [initialize] = journal.of('initialize');
    expect(initialize).toMatchObject({ shardId, sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 });
    // initialize has no checkpointer: KCL's answer is InvalidStateException.
    expect(journal.of('checkpoint')).toEqual([expect.objectContaining({ in: 'initialize', args: [null, null], error: 'InvalidStateException' })]);
    const processed = journal.of('processRecords');
    expect(processed.map(delivered)).toEqual([[`${seqs[0]}/0`, `${seqs[1]}/0`, `${seqs[2]}/0`], [`${seqs[3]}/0`]]);
    expect(processed[0].millisBehindLatest).toEqual(expect.any(Number));
    expect(journal.pids()).toHaveLength(1);
    expect(journal.output.filter((out) => out.stream === 'stdout').map((out) => out.line)).toEqual([
      'a library printing to stdout',
      '{not json',
      '{"no": "action here"}',
      '[1, 2, 3]',
    ]);
  });

  test('a replayed batch never reaches the child; only records above the checkpoint do', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'ok', 'ok'));
    expect(failures(await handler(batch(0, 'ok', 'ok', 'ok')))).toEqual([]);
    expect(journal.of('processRecords').map(delivered)).toEqual([[`${seqs[0]}/0`, `${seqs[1]}/0`], [`${seqs[2]}/0`]]);
  });

  test('checkpoint requests are validated by KCL rules and answered with the KCL exception names (manual checkpointing)', async () => {
    const handler = handlerFor({ checkpointing: 'manual' });
    const response = await handler(batch(0, 'checkpoint-below', 'checkpoint-above', 'checkpoint-this', 'checkpoint-seq-only', 'ok'));
    const answers = journal.of('checkpoint').filter((entry) => entry.in === 'processRecords');
    expect(answers.map((entry) => [entry.args, entry.error])).toEqual([
      [['1', 0], null], // at the last checkpoint (TRIM_HORIZON) or above it, but not a delivered record
      [['9'.repeat(60), 0], 'IllegalArgumentException'],
      [[seqs[2], 0], null],
      [[seqs[3], null], null], // a null sub-sequence number is sub-sequence 0
    ]);
    // Manual: only the child's own checkpoints count; Lambda re-delivers the rest.
    expect(failures(response)).toEqual([seqs[4]]);
    expect(await position()).toEqual([seqs[3], '0']);

    // Below the checkpoint now: refused.
    await handler(batch(4, 'checkpoint-below'));
    expect(journal.of('checkpoint').at(-1)).toMatchObject({ args: ['1', 0], error: 'IllegalArgumentException' });
  });

  test('KPL user records reach the child with their sub-sequence numbers and a checkpoint inside an aggregate resumes after it', async () => {
    const handler = handlerFor({ checkpointing: 'manual' });
    const data = aggregate(['ok', 'checkpoint-this', 'ok'].map((command, index) => ({ partitionKey: `user-${index}`, data: Buffer.from(command) })));
    const event = () => kinesisEvent(stream.streamArn, shardId, [{ sequenceNumber: seqs[0], data, partitionKey: 'outer' }]);

    expect(failures(await handler(event()))).toEqual([seqs[0]]);
    expect(await position()).toEqual([seqs[0], '1']);
    // Lambda delivers the aggregate again: only its last user record is new.
    await handler(event());
    expect(journal.of('processRecords').map(delivered)).toEqual([
      [`${seqs[0]}/0`, `${seqs[0]}/1`, `${seqs[0]}/2`],
      [`${seqs[0]}/2`],
    ]);
  });

  test('a child that exits mid-batch fails the batch from the durable checkpoint; the next batch gets a new child', async () => {
    const handler = handlerFor();
    const response = await handler(batch(0, 'ok', 'checkpoint-this', 'exit', 'ok'));
    expect(failures(response)).toEqual([seqs[2]]);
    expect(await position()).toEqual([seqs[1], '0']);
    expect(logged('exited with code 3')).toBe(true);

    // Lambda re-delivers from the failed record (the data differs so it does not exit again).
    expect(failures(await handler(batch(2, 'ok', 'ok')))).toEqual([]);
    const [first, second] = journal.of('initialize');
    expect(second.pid).not.toBe(first.pid);
    expect(second).toMatchObject({ sequenceNumber: seqs[1], subSequenceNumber: 0 });
    expect(journal.of('processRecords').map(delivered).at(-1)).toEqual([`${seqs[2]}/0`, `${seqs[3]}/0`]);
    expect(await position()).toEqual([seqs[3], '0']);
  });

  test('a child that hangs is killed at the deadline of the timeout guard: the invocation answers, the next batch gets a new child', async () => {
    const handler = handlerFor();
    const response = await handler(batch(0, 'ok', 'hang', 'ok'), lambdaContext(2_500));
    expect(failures(response)).toEqual([seqs[0]]);
    expect(logged("before the invocation's deadline")).toBe(true);

    expect(failures(await handler(batch(0, 'ok', 'ok', 'ok')))).toEqual([]);
    expect(journal.pids()).toHaveLength(2);
    expect(await position()).toEqual([seqs[2], '0']);
  });

  test('a child that hangs in initialize is killed at the deadline; the next batch starts a new child at the same position', async () => {
    const handler = handlerFor({}, { env: { KCL_FIXTURE_JOURNAL: journal.path, KCL_FIXTURE_HANG_IN_FIRST_INITIALIZE: `${journal.path}.hung` } });
    expect(failures(await handler(batch(0, 'ok', 'ok'), lambdaContext(2_500)))).toEqual([seqs[0]]);
    expect(logged("no answer to initialize before the invocation's deadline")).toBe(true);
    expect(journal.calls()).toEqual(['hangInInitialize']);

    expect(failures(await handler(batch(0, 'ok', 'ok')))).toEqual([]);
    expect(journal.of('initialize')).toEqual([expect.objectContaining({ sequenceNumber: 'TRIM_HORIZON' })]);
    expect(journal.pids()).toHaveLength(2);
    expect(await position()).toEqual([seqs[1], '0']);
  });

  test('a status for the wrong call, after garbage, fails the batch and the child is replaced', async () => {
    const handler = handlerFor();
    expect(failures(await handler(batch(0, 'garbage', 'wrong-status', 'ok')))).toEqual([seqs[0]]);
    expect(logged('answered initialize while processRecords was waiting')).toBe(true);
    expect(failures(await handler(batch(0, 'ok')))).toEqual([]);
    expect(journal.pids()).toHaveLength(2);
  });

  test('a command that cannot start fails the batch with a clear error, not the invocation', async () => {
    const handler = handlerFor({}, { command: ['/nonexistent/kcl-processor'] });
    expect(failures(await handler(batch(0, 'ok')))).toEqual([seqs[0]]);
    expect(logged('could not start "/nonexistent/kcl-processor" (ENOENT)')).toBe(true);
  });

  test('stderr is forwarded line by line; text without a newline is flushed at the end of each invocation', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'stderr-partial:first half'));
    expect(journal.output.filter((out) => out.stream === 'stderr').map((out) => out.line)).toEqual(['first half']);
    await handler(batch(1, 'stderr-partial:second'));
    expect(journal.output.filter((out) => out.stream === 'stderr').map((out) => out.line)).toEqual(['first half', 'second']);
    expect(journal.output.every((out) => out.shardId === shardId)).toBe(true);
  });

  test('the timeout guard: shutdownRequested reaches the child once its processRecords has answered, and its checkpoint counts', async () => {
    const handler = handlerFor({ timeoutGuardMs: 5_000 });
    // The guard fires 2 s in, while the child sleeps 3 s; the deadline to answer is 5.75 s in.
    const response = await handler(batch(0, 'ok', 'sleep:3000', 'ok'), lambdaContext(7_000));
    expect(failures(response)).toEqual([]);
    expect(journal.calls().filter((call) => call !== 'checkpoint')).toEqual(['initialize', 'processRecords', 'shutdownRequested']);
    // checkpoint() in shutdownRequested means the batch the child finished.
    expect(journal.of('checkpoint').at(-1)).toMatchObject({ in: 'shutdownRequested', args: [null, null], error: null });
    expect(await position()).toEqual([seqs[2], '0']);
    await journal.waitFor('eof');
    expect(journal.calls().at(-1)).toBe('eof'); // shut down: its stdin was closed

    expect(failures(await handler(batch(3, 'ok')))).toEqual([]);
    expect(journal.of('initialize').at(-1)).toMatchObject({ sequenceNumber: seqs[2] });
  });

  test('lease lost: the child’s checkpoint gets ShutdownException, then leaseLost (where a checkpoint is InvalidStateException)', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'ok'));
    let done = false;
    harness.fault = (commandName, input) => {
      const key = input.Key as Record<string, AttributeValue> | undefined;
      if (commandName !== 'UpdateItemCommand' || key?.leaseKey?.S !== shardId || done) return undefined;
      return async () => {
        done = true;
        const current = await row();
        await harness.putRow(tableName, {
          ...current,
          leaseKey: { S: shardId },
          checkpoint: { S: seqs[1] },
          checkpointSubSequenceNumber: { N: '0' },
          leaseCounter: { N: String(Number(current?.leaseCounter?.N ?? '0') + 1) },
          leaseOwner: { S: 'worker-2' },
        });
      };
    };
    const response = await handler(batch(1, 'ok', 'checkpoint-this', 'ok'));
    expect(failures(response)).toEqual([seqs[2]]); // what the winner has not covered
    const answers = journal.of('checkpoint').slice(-2);
    expect(answers.map((entry) => [entry.in, entry.error])).toEqual([
      ['processRecords', 'ShutdownException'],
      ['leaseLost', 'InvalidStateException'],
    ]);
    await journal.waitFor('eof');
    expect(journal.calls().slice(-3)).toEqual(['leaseLost', 'checkpoint', 'eof']);
  });

  test('shard end on a real split: the parent’s child gets shardEnded and its checkpoint() records SHARD_END', async () => {
    const split = await harness.newStream(1);
    const parent = split.shardIds[0];
    await putRecords(harness.kinesis, split.streamName, [{ data: 'ok' }, { data: 'ok' }], { shardId: parent });
    const handler = handlerFor();
    expect(failures(await handler(await readShardAsEvent(harness.kinesis, split.streamName, parent)))).toEqual([]);
    const children = await splitShard(harness.kinesis, split.streamName, parent);
    const child = children[0];
    await putRecords(harness.kinesis, split.streamName, [{ data: 'ok' }], { shardId: child });

    expect(failures(await handler(await readShardAsEvent(harness.kinesis, split.streamName, child)))).toEqual([]);
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    expect(journal.of('checkpoint').find((entry) => entry.in === 'shardEnded')).toMatchObject({ args: [null, null], error: null });
    const shardIds = journal.of('initialize').map((entry) => entry.shardId);
    expect(shardIds).toEqual([parent, child]);
    await journal.waitFor('eof');
    expect(journal.of('eof')).toHaveLength(1); // the parent's child was told to exit
  });

  test('the child does not inherit LD_LIBRARY_PATH (it breaks Python’s hashlib in the Lambda Node.js image)', () => {
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = '/var/lang/lib';
    try {
      const probe = withMultiLangProcessor({ command: ['python3', '-c', 'pass'] });
      expect(typeof probe).toBe('function');
      const { childEnvironment } = jest.requireActual<typeof import('../../../lambda/multilang/child-environment')>(
        '../../../lambda/multilang/child-environment',
      );
      const env = childEnvironment(process.env, { EXTRA: 'yes' });
      expect(env.LD_LIBRARY_PATH).toBeUndefined();
      const seen = spawnSync('python3', ['-c', 'import os, hashlib; print(os.environ.get("LD_LIBRARY_PATH"), os.environ["EXTRA"])'], { env });
      expect(seen.stdout.toString().trim()).toBe('None yes');
    } finally {
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = saved;
    }
  });

  test('bad options give one clear configuration error', () => {
    expect(() => withMultiLangProcessor({ command: [] })).toThrow(KclConfigurationError);
    expect(() => withMultiLangProcessor({ command: 'python3 app.py' as unknown as string[] })).toThrow(/non-empty array of strings/);
    expect(() => withMultiLangProcessor({ command: ['x'], dialect: 'kcl3' as 'kcl2' })).toThrow(/dialect must be 'kcl2' or 'kcl1'/);
    expect(() => withMultiLangProcessor({ command: ['x'], env: { A: 1 as unknown as string } })).toThrow(/A is number/);
  });
});

describe('the Python fixture is as strict as amazon_kclpy', () => {
  const good = {
    action: 'processRecords',
    millisBehindLatest: 0,
    records: [{ action: 'record', data: 'b2s=', partitionKey: 'k', sequenceNumber: '1', subSequenceNumber: 0, approximateArrivalTimestamp: 1 }],
  };
  const init = JSON.stringify({ action: 'initialize', shardId: 's', sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 });
  /** Runs the fixture on these stdin lines (after initialize and the answer to its checkpoint); its exit code. */
  const exitCodeFor = (line: string) => {
    const checkpointReply = JSON.stringify({ action: 'checkpoint', sequenceNumber: null, subSequenceNumber: null, error: 'InvalidStateException' });
    const result = spawnSync('python3', ['-S', PYTHON_FIXTURE], { input: `${init}\n${checkpointReply}\n${line}\n` });
    return result.status;
  };
  const record = good.records[0];

  test.each([
    ['a well-formed processRecords', JSON.stringify(good), 0],
    ['a blank line', '', 70],
    ['a line that is not JSON', 'processRecords', 70],
    ['an unknown action', JSON.stringify({ action: 'processRecord' }), 70],
    ['a nested object without action', JSON.stringify({ ...good, records: [{ ...record, action: undefined }] }), 70],
    ['a missing field', JSON.stringify({ action: 'processRecords', records: [] }), 70],
    ['a null approximateArrivalTimestamp', JSON.stringify({ ...good, records: [{ ...record, approximateArrivalTimestamp: null }] }), 70],
    ['a KCL 1.x shutdown', JSON.stringify({ action: 'shutdown', reason: 'TERMINATE' }), 70],
  ])('%s → exit %s', (_name, line, code) => {
    expect(exitCodeFor(line)).toBe(code);
  });
});
