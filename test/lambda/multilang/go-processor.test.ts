/**
 * A processor that behaves like the Go KCL client (KCL 1.x dialect: late checkpoints
 * sent after the status, `shutdown` TERMINATE/ZOMBIE, "shutdown" as the answer to
 * shutdownRequested, exit right after it) through withMultiLangProcessor and the
 * engine, against dynalite and kinesalite. The fixture is compiled with `go build`
 * into a temporary folder (a static binary, as it would ship in a function's zip).
 */
import { lambdaContext } from '../../support/runtime-harness';
import { buildGoFixture, delivered, failures } from './multilang-harness';
import { multiLangSuite } from './multilang-suite';

describe('a Go-client-style processor (kcl1 dialect) through withMultiLangProcessor', () => {
  let binary: string;
  const suite = multiLangSuite({
    prepare: (dir) => {
      binary = buildGoFixture(dir);
    },
    processor: () => ({ command: [binary], dialect: 'kcl1' }),
  });
  const { seqs, handlerFor, batch, position, logged, takeOverBeforeNextWrite, handleAcrossSplit } = suite;

  test('late checkpoints (sent after the status) are answered during the next call and never fail a batch', async () => {
    const handler = handlerFor();
    expect(failures(await handler(batch(0, 'ok', 'checkpoint')))).toEqual([]);
    expect(failures(await handler(batch(2, 'ok', 'checkpoint', 'ok')))).toEqual([]);
    expect(failures(await handler(batch(5, 'ok')))).toEqual([]);
    expect(await position()).toEqual([seqs[5], '0']);
    // Each late checkpoint names a record the engine had already checkpointed: answered as done.
    expect(suite.journal.of('checkpoint').map((entry) => [entry.args, entry.error])).toEqual([
      [[seqs[1], 0], null],
      [[seqs[3], 0], null],
    ]);
    expect(suite.journal.of('processRecords').map(delivered)).toEqual([
      [`${seqs[0]}/0`, `${seqs[1]}/0`],
      [`${seqs[2]}/0`, `${seqs[3]}/0`, `${seqs[4]}/0`],
      [`${seqs[5]}/0`],
    ]);
    expect(suite.journal.pids()).toHaveLength(1);
    expect(suite.journal.of('initialize')[0]).toMatchObject({ shardId: suite.shardId, sequenceNumber: 'TRIM_HORIZON' });
  });

  test('shard end on a real split: shutdown TERMINATE, the final checkpoint without a sequence number records SHARD_END; the reply after its clean exit (EPIPE) does not fail the batch', async () => {
    const { parent, child } = await handleAcrossSplit(handlerFor(), 'ok', 'checkpoint');
    expect(await position(parent)).toEqual(['SHARD_END', '0']);
    expect(suite.journal.of('shutdown')).toEqual([expect.objectContaining({ reason: 'TERMINATE' })]);
    expect(suite.journal.of('initialize').map((entry) => entry.shardId)).toEqual([parent, child]);
    // The parent's child exited right after its status, before the reply to its final checkpoint could be read.
    expect(suite.journal.of('eof')).toEqual([]);
  });

  test('lease lost: shutdown ZOMBIE; the next batch starts a new child at the winner’s checkpoint', async () => {
    const handler = handlerFor();
    await handler(batch(0, 'ok'));
    takeOverBeforeNextWrite(seqs[1]);
    expect(failures(await handler(batch(1, 'ok', 'ok')))).toEqual([seqs[2]]);
    expect(suite.journal.of('shutdown')).toEqual([expect.objectContaining({ reason: 'ZOMBIE' })]);

    expect(failures(await handler(batch(2, 'ok')))).toEqual([]);
    expect(suite.journal.of('initialize').at(-1)).toMatchObject({ sequenceNumber: seqs[1] });
    expect(suite.journal.pids()).toHaveLength(2);
  });

  test('the timeout guard: shutdownRequested is answered as "shutdown"; the late checkpoint it sent first counts', async () => {
    const handler = handlerFor({ timeoutGuardMs: 5_000 });
    const response = await handler(batch(0, 'ok', 'sleep:3000', 'checkpoint'), lambdaContext(7_000));
    expect(failures(response)).toEqual([]);
    expect(suite.journal.of('shutdown')).toEqual([expect.objectContaining({ reason: 'SHUTDOWN_REQUESTED' })]);
    expect(await position()).toEqual([seqs[2], '0']);
    expect(logged('failed in shutdownRequested')).toBe(false);
  });

  test('the wrong dialect: the Go client never answers leaseLost, and the invocation still answers at the deadline', async () => {
    const handler = handlerFor({}, { dialect: 'kcl2' });
    await handler(batch(0, 'ok'));
    takeOverBeforeNextWrite(seqs[1]);
    expect(failures(await handler(batch(1, 'ok', 'ok'), lambdaContext(2_000)))).toEqual([seqs[2]]);
    expect(logged("no answer to leaseLost before the invocation's deadline")).toBe(true);
    expect(suite.journal.output.some((out) => out.stream === 'stderr' && out.line.includes("no recognizable 'action'"))).toBe(true);
  });
});
