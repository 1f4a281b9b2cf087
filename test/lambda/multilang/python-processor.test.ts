/**
 * An amazon_kclpy-style processor (Python, standard library only, kclpy's strict
 * parsing) through withMultiLangProcessor and the engine, against dynalite and
 * kinesalite: checkpoints, replays, KCL error names, KPL sub-sequences, a child that
 * exits, hangs or breaks the protocol, the timeout guard, lease lost, shard end.
 */
import { spawnSync } from 'node:child_process';
import { KclConfigurationError, MultiLangChildError, withMultiLangProcessor } from '../../../lambda';
import { aggregate } from '../records/kpl-vectors';
import { kinesisEvent, lambdaContext } from '../../support/runtime-harness';
import { PYTHON_FIXTURE, delivered, failures } from './multilang-harness';
import { multiLangSuite } from './multilang-suite';

describe('a kclpy-style Python processor through withMultiLangProcessor', () => {
  const suite = multiLangSuite({ processor: () => ({ command: ['python3', '-S', PYTHON_FIXTURE] }) });
  const { seqs, handlerFor, batch, position, logged, takeOverBeforeNextWrite, handleAcrossSplit } = suite;

  test('delivers each batch to one reused child and checkpoints at its end; non-protocol stdout is skipped and forwarded', async () => {
    const handler = handlerFor();
    expect(failures(await handler(batch(0, 'ok', 'garbage', 'ok')))).toEqual([]);
    expect(await position()).toEqual([seqs[2], '0']);
    expect(failures(await handler(batch(3, 'ok')))).toEqual([]);
    expect(await position()).toEqual([seqs[3], '0']);

    const [initialize] = suite.journal.of('initialize');
    expect(initialize).toMatchObject({ shardId: suite.shardId, sequenceNumber: 'TRIM_HORIZON', subSequenceNumber: 0 });
    // initialize has no checkpointer: KCL's answer is InvalidStateException.
    expect(suite.journal.of('checkpoint')).toEqual([expect.objectContaining({ in: 'initialize', args: [null, null], error: 'InvalidStateException' })]);
    const processed = suite.journal.of('processRecords');
    expect(processed.map(delivered)).toEqual([[`${seqs[0]}/0`, `${seqs[1]}/0`, `${seqs[2]}/0`], [`${seqs[3]}/0`]]);
    expect(processed[0].millisBehindLatest).toEqual(expect.any(Number));
    expect(suite.journal.pids()).toHaveLength(1);
    expect(suite.journal.output.filter((out) => out.stream === 'stdout').map((out) => out.line)).toEqual([
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
    expect(suite.journal.of('processRecords').map(delivered)).toEqual([[`${seqs[0]}/0`, `${seqs[1]}/0`], [`${seqs[2]}/0`]]);
  });

  test('checkpoint requests are validated by KCL rules and answered with the KCL exception names (manual checkpointing)', async () => {
    const handler = handlerFor({ checkpointing: 'manual' });
    const response = await handler(batch(0, 'checkpoint-below', 'checkpoint-above', 'checkpoint-this', 'checkpoint-seq-only', 'ok'));
    const answers = suite.journal.of('checkpoint').filter((entry) => entry.in === 'processRecords');
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
    expect(suite.journal.of('checkpoint').at(-1)).toMatchObject({ args: ['1', 0], error: 'IllegalArgumentException' });
  });

  test('KPL user records reach the child with their sub-sequence numbers and a checkpoint inside an aggregate resumes after it', async () => {
    const handler = handlerFor({ checkpointing: 'manual' });
    const data = aggregate(['ok', 'checkpoint-this', 'ok'].map((command, index) => ({ partitionKey: `user-${index}`, data: Buffer.from(command) })));
    const event = () => kinesisEvent(suite.stream.streamArn, suite.shardId, [{ sequenceNumber: seqs[0], data, partitionKey: 'outer' }]);

    expect(failures(await handler(event()))).toEqual([seqs[0]]);
    expect(await position()).toEqual([seqs[0], '1']);
    // Lambda delivers the aggregate again: only its last user record is new.
    await handler(event());
    expect(suite.journal.of('processRecords').map(delivered)).toEqual([
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
    const [first, second] = suite.journal.of('initialize');
    expect(second.pid).not.toBe(first.pid);
    expect(second).toMatchObject({ sequenceNumber: seqs[1], subSequenceNumber: 0 });
    expect(suite.journal.of('processRecords').map(delivered).at(-1)).toEqual([`${seqs[2]}/0`, `${seqs[3]}/0`]);
    expect(await position()).toEqual([seqs[3], '0']);
  });

  test('a child that hangs is killed at the deadline of the timeout guard: the invocation answers, the next batch gets a new child', async () => {
    const handler = handlerFor();
    const response = await handler(batch(0, 'ok', 'hang', 'ok'), lambdaContext(2_500));
    expect(failures(response)).toEqual([seqs[0]]);
    expect(logged("before the invocation's deadline")).toBe(true);

    expect(failures(await handler(batch(0, 'ok', 'ok', 'ok')))).toEqual([]);
    expect(suite.journal.pids()).toHaveLength(2);
    expect(await position()).toEqual([seqs[2], '0']);
  });

  test('a child that hangs in initialize is killed at the deadline; the next batch starts a new child at the same position', async () => {
    const handler = handlerFor({}, { env: { KCL_FIXTURE_HANG_IN_FIRST_INITIALIZE: `${suite.journal.path}.hung` } });
    expect(failures(await handler(batch(0, 'ok', 'ok'), lambdaContext(2_500)))).toEqual([seqs[0]]);
    expect(logged("no answer to initialize before the invocation's deadline")).toBe(true);
    expect(suite.journal.calls()).toEqual(['hangInInitialize']);

    expect(failures(await handler(batch(0, 'ok', 'ok')))).toEqual([]);
    expect(suite.journal.of('initialize')).toEqual([expect.objectContaining({ sequenceNumber: 'TRIM_HORIZON' })]);
    expect(suite.journal.pids()).toHaveLength(2);
    expect(await position()).toEqual([seqs[1], '0']);
  });

  test('a status for the wrong call, after garbage, fails the batch and the child is replaced', async () => {
    const handler = handlerFor();
    expect(failures(await handler(batch(0, 'garbage', 'wrong-status', 'ok')))).toEqual([seqs[0]]);
    expect(logged('answered initialize while processRecords was waiting')).toBe(true);
    expect(failures(await handler(batch(0, 'ok')))).toEqual([]);
    expect(suite.journal.pids()).toHaveLength(2);
  });

  test.each([
    ['does not exist', '/nonexistent/kcl-processor', 'ENOENT'],
    ['is not executable', PYTHON_FIXTURE, 'EACCES'],
  ])('a command that %s fails the batch with a spawn MultiLangChildError, not the invocation', async (_case, executable, code) => {
    const handler = handlerFor({}, { command: [executable] });
    expect(failures(await handler(batch(0, 'ok')))).toEqual([seqs[0]]);
    const errors = suite.logger.lines.flatMap((line) => line.extra).map((extra) => (extra as { error?: unknown }).error);
    const spawnError = errors.find((error): error is MultiLangChildError => error instanceof MultiLangChildError);
    expect(spawnError).toMatchObject({ failure: 'spawn', shardId: suite.shardId, message: `MultiLang processor for ${suite.shardId}: could not start ${JSON.stringify(executable)} (${code})` });
    expect(suite.journal.entries()).toEqual([]);
  });

  test('stderr is forwarded line by line; text without a newline is flushed at the end of each invocation', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'stderr-partial:first half'));
    expect(suite.journal.output.filter((out) => out.stream === 'stderr').map((out) => out.line)).toEqual(['first half']);
    await handler(batch(1, 'stderr-partial:second'));
    expect(suite.journal.output.filter((out) => out.stream === 'stderr').map((out) => out.line)).toEqual(['first half', 'second']);
    expect(suite.journal.output.every((out) => out.shardId === suite.shardId)).toBe(true);
  });

  test('the timeout guard: shutdownRequested reaches the child once its processRecords has answered, and its checkpoint counts', async () => {
    const handler = handlerFor({ timeoutGuardMs: 5_000 });
    // The guard fires 2 s in, while the child sleeps 3 s; the deadline to answer is 5.75 s in.
    const response = await handler(batch(0, 'ok', 'sleep:3000', 'ok'), lambdaContext(7_000));
    expect(failures(response)).toEqual([]);
    expect(suite.journal.calls().filter((call) => call !== 'checkpoint')).toEqual(['initialize', 'processRecords', 'shutdownRequested']);
    // checkpoint() in shutdownRequested means the batch the child finished.
    expect(suite.journal.of('checkpoint').at(-1)).toMatchObject({ in: 'shutdownRequested', args: [null, null], error: null });
    expect(await position()).toEqual([seqs[2], '0']);
    await suite.journal.waitFor('eof');
    expect(suite.journal.calls().at(-1)).toBe('eof'); // shut down: its stdin was closed

    expect(failures(await handler(batch(3, 'ok')))).toEqual([]);
    expect(suite.journal.of('initialize').at(-1)).toMatchObject({ sequenceNumber: seqs[2] });
  });

  test('lease lost: the child’s checkpoint gets ShutdownException, then leaseLost (where a checkpoint is InvalidStateException)', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'ok'));
    takeOverBeforeNextWrite(seqs[1]);
    const response = await handler(batch(1, 'ok', 'checkpoint-this', 'ok'));
    expect(failures(response)).toEqual([seqs[2]]); // what the winner has not covered
    const answers = suite.journal.of('checkpoint').slice(-2);
    expect(answers.map((entry) => [entry.in, entry.error])).toEqual([
      ['processRecords', 'ShutdownException'],
      ['leaseLost', 'InvalidStateException'],
    ]);
    await suite.journal.waitFor('eof');
    expect(suite.journal.calls().slice(-3)).toEqual(['leaseLost', 'checkpoint', 'eof']);
  });

  test('shard end on a real split: the parent’s child gets shardEnded and its checkpoint() records SHARD_END', async () => {
    const { parent, child } = await handleAcrossSplit(handlerFor(), 'ok', 'ok');
    expect((await suite.harness.row(suite.tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    expect(suite.journal.of('checkpoint').find((entry) => entry.in === 'shardEnded')).toMatchObject({ args: [null, null], error: null });
    const shardIds = suite.journal.of('initialize').map((entry) => entry.shardId);
    expect(shardIds).toEqual([parent, child]);
    await suite.journal.waitFor('eof');
    expect(suite.journal.of('eof')).toHaveLength(1); // the parent's child was told to exit
  });

  test('the child starts without LD_LIBRARY_PATH, LD_PRELOAD, NODE_OPTIONS, NODE_PATH (LD_LIBRARY_PATH breaks Python’s hashlib in the Lambda Node.js image), with the rest inherited and `env` added', async () => {
    // As in the Lambda Node.js image, where /var/lang/lib holds Node's OpenSSL.
    const parent: Record<string, string> = {
      LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64',
      LD_PRELOAD: '/nonexistent/libpreload.so',
      NODE_OPTIONS: '--enable-source-maps',
      NODE_PATH: '/opt/nodejs/node_modules',
      KCL_FIXTURE_INHERITED: 'from the function',
      KCL_FIXTURE_REMOVED: 'from the function',
    };
    const saved = Object.fromEntries(Object.keys(parent).map((name) => [name, process.env[name]]));
    Object.assign(process.env, parent);
    try {
      const handler = handlerFor({}, { env: { KCL_FIXTURE_RECORD_ENVIRONMENT: '1', KCL_FIXTURE_ADDED: 'from env', KCL_FIXTURE_REMOVED: undefined } });
      expect(failures(await handler(batch(0, 'ok')))).toEqual([]);
      // An explicit env entry still sets a scrubbed variable.
      const explicit = handlerFor({}, { env: { KCL_FIXTURE_RECORD_ENVIRONMENT: '1', NODE_PATH: '/opt/explicit' } });
      expect(failures(await explicit(batch(1, 'ok')))).toEqual([]);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    const [recorded, withExplicit] = suite.journal.of('environment');
    const environment = recorded.environment as Record<string, string>;
    for (const name of ['LD_LIBRARY_PATH', 'LD_PRELOAD', 'NODE_OPTIONS', 'NODE_PATH', 'KCL_FIXTURE_REMOVED']) expect(environment).not.toHaveProperty(name);
    expect(environment).toMatchObject({
      KCL_FIXTURE_INHERITED: 'from the function',
      KCL_FIXTURE_ADDED: 'from env',
      KCL_FIXTURE_JOURNAL: suite.journal.path,
    });
    // The fixture imported hashlib and hashed with it in that environment.
    expect(recorded.sha256).toBe('2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae');
    expect(withExplicit.environment).toMatchObject({ NODE_PATH: '/opt/explicit', KCL_FIXTURE_INHERITED: 'from the function' });
    expect(withExplicit.environment).not.toHaveProperty('LD_LIBRARY_PATH');
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
