import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

function npmStart(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['start', '--silent', '--', ...args], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The cells of the summary row whose first cell is `name`, in the first table after `section`. */
function row(text: string, name: string, section = 'Records per shard'): string[] {
  const after = text.slice(text.indexOf(section));
  const line = after.split('\n').find((candidate) => candidate.startsWith(`│ ${name} `));
  if (!line) throw new Error(`No row ${name} in:\n${text}`);
  return line.split('│').slice(1, -1).map((cell) => cell.trim());
}

test('npm start runs the demo end to end and prints its summary', async () => {
  const started = Date.now();
  const { code, stdout, stderr } = await npmStart(['--records', '200']);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  expect(Date.now() - started).toBeLessThan(60_000);

  expect(stdout).toContain('Event source mapping (synthesized from bin/app.ts)');
  const [, , , produced, processed] = row(stdout, 'total');
  expect(produced).toBe('200');
  expect(processed).toBe('200');
  // Two shards, one split: shardId-000000000000 is the parent of 2 and 3.
  expect(row(stdout, 'shardId-000000000002')[1]).toBe('shardId-000000000000');
  expect(row(stdout, 'shardId-000000000000', 'Checkpoint table')[1]).toBe('SHARD_END');
  expect(row(stdout, 'shardId-000000000002', 'Checkpoint table')[5]).toBe('shardId-000000000000');
  expect(stdout).toMatch(/Injected failures: 2; retried invocations: [1-9]/);
  expect(stdout).toContain('On-failure records: 0');
  expect(stdout).toContain('OK: every record processed at least once');
}, 120_000);

test('npm start with a module that is not a processor fails with one clear message', async () => {
  const { code, stdout, stderr } = await npmStart(['--processor', 'test/local/demo/fixtures/not-a-processor.ts']);
  expect(code).toBe(1);
  expect(stdout).toBe('');
  expect(stderr.trim().split('\n').filter((line) => line.startsWith('error: '))).toEqual([
    expect.stringMatching(/^error: Processor module test\/local\/demo\/fixtures\/not-a-processor\.ts exports neither a Lambda handler .* It exports: answer\.$/),
  ]);
}, 60_000);
