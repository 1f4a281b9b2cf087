import { PassThrough } from 'node:stream';
import { EveryInvocationFailedError, FailureWatch } from '../../../local/demo/failure-watch';

const failed = { verdict: { kind: 'failed', reason: 'function error: Error: boom' } } as const;
const firstRecordFailed = { verdict: { kind: 'partial', retryFromIndex: 0, itemIdentifier: '1' } } as const;
const someDone = { verdict: { kind: 'partial', retryFromIndex: 3, itemIdentifier: '4' } } as const;

test('trips after the limit of failed invocations when none made progress, with the last runtime error', async () => {
  const watch = new FailureWatch(3);
  watch.invocationFinished(failed);
  watch.runtimeError('processRecords failed', 'SyntaxError: Unexpected token');
  watch.invocationFinished(firstRecordFailed);
  expect(() => watch.check()).not.toThrow();
  watch.invocationFinished(firstRecordFailed);
  expect(() => watch.check()).toThrow(EveryInvocationFailedError);
  expect(watch.error?.message).toBe(
    'Every invocation failed (3 of 3, no record processed); stopping. Last error: processRecords failed: SyntaxError: Unexpected token',
  );
  await expect(watch.tripped).rejects.toBe(watch.error);
});

test('without a runtime error it names the verdict', () => {
  const watch = new FailureWatch(2);
  watch.invocationFinished(failed);
  watch.invocationFinished(failed);
  expect(watch.error?.message).toMatch(/Last error: function error: Error: boom$/);
});

test('never trips once an invocation made progress', () => {
  const watch = new FailureWatch(2);
  watch.invocationFinished(someDone);
  for (let index = 0; index < 10; index += 1) watch.invocationFinished(failed);
  expect(watch.error).toBeUndefined();
});

test("reads the runtime's ERROR lines from standard error and lets every byte through", () => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let passed = '';
  (stream as unknown as PassThrough).on('data', (chunk: Buffer) => (passed += chunk.toString()));
  const watch = new FailureWatch(1);
  const stop = watch.readStandardError(stream);
  const line = JSON.stringify({ level: 'ERROR', message: 'processRecords failed', error: { name: 'TypeError', message: 'x is undefined' } });
  stream.write(`not json\n${line}\n`);
  stop();
  stream.write(JSON.stringify({ level: 'ERROR', message: 'after stop' }) + '\n');
  watch.invocationFinished(failed);
  expect(watch.error?.message).toMatch(/Last error: processRecords failed: TypeError: x is undefined$/);
  expect(passed).toContain('not json\n');
  expect(passed).toContain(line);
});
