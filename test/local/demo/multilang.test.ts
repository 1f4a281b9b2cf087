/**
 * The local runner with a MultiLang processor: `--multilang "python3 app.py"` runs the
 * command through withMultiLangProcessor behind the emulated event source mapping,
 * with the deployment's settings, a split midway and the planned failures.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SHARD_END } from '../../../lambda/records/sequence-number';
import { runDemo } from '../../../local/demo/demo';
import { CommandLineError, splitCommandLine } from '../../../local/demo/command-line';
import { FixtureJournals, PYTHON_FIXTURE, buildGoFixture } from '../../lambda/multilang/multilang-harness';

const root = join(__dirname, '..', '..', '..');
const settings = { batchSize: 100, reportBatchItemFailures: true, maximumRetryAttempts: 10, functionTimeoutSeconds: 60, functionName: 'local-consumer' };

describe('the local runner runs a MultiLang processor', () => {
  const journals = new FixtureJournals();
  afterAll(() => journals.remove());

  test('every record reaches the Python child at least once, the split parent ends with SHARD_END', async () => {
    const journal = journals.next();
    process.env.KCL_FIXTURE_JOURNAL = journal.path;
    try {
      const result = await runDemo({ records: 300, shards: 2, multilang: `python3 -S ${PYTHON_FIXTURE}`, settings, progress: false });
      expect(result.summary.problems).toEqual([]);
      expect(result.summary.processor).toContain('withMultiLangProcessor (kcl2)');
      const seen = new Set(journal.of('processRecords').flatMap((entry) => (entry.records as [string, number, string][]).map(([, , data]) => data)));
      expect(result.produced.filter((record) => !seen.has(record.payload))).toEqual([]);
      const parents = new Set(result.summary.shards.flatMap((shard) => shard.parents));
      expect(parents.size).toBeGreaterThan(0);
      for (const parent of parents) expect(result.summary.checkpointRows.find((row) => row.leaseKey === parent)?.checkpoint).toBe(SHARD_END);
      expect(journal.of('shardEnded').length).toBeGreaterThan(0);
      journal.expectNoFatal();
    } finally {
      delete process.env.KCL_FIXTURE_JOURNAL;
    }
  }, 120_000);

  test('a Go-client-style binary (kcl1) through the runner: late checkpoints, shutdown TERMINATE at the split', async () => {
    const journal = journals.next();
    const binary = buildGoFixture(journals.dir);
    process.env.KCL_FIXTURE_JOURNAL = journal.path;
    try {
      const result = await runDemo({ records: 200, shards: 1, multilang: binary, multilangDialect: 'kcl1', settings, progress: false });
      expect(result.summary.problems).toEqual([]);
      const seen = new Set(journal.of('processRecords').flatMap((entry) => (entry.records as [string, number, string][]).map(([, , data]) => data)));
      expect(result.produced.filter((record) => !seen.has(record.payload))).toEqual([]);
      expect(journal.of('shutdown').map((entry) => entry.reason)).toContain('TERMINATE');
      expect(journal.of('retryStorm')).toEqual([]);
    } finally {
      delete process.env.KCL_FIXTURE_JOURNAL;
    }
  }, 120_000);

  test('npm start -- --multilang "python3 …" prints the summary', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('npm', ['start', '--silent', '--', '--records', '100', '--multilang', `python3 -S ${PYTHON_FIXTURE}`], {
        cwd: root,
        env: { ...process.env, FORCE_COLOR: '0' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (err += chunk));
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
    });
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('withMultiLangProcessor (kcl2)');
    expect(stdout).toContain('OK: nothing discarded; SHARD_END on every closed shard');
  }, 120_000);

  test('the command line is split into words like a shell would, without running one', () => {
    expect(splitCommandLine('python3 app.py')).toEqual(['python3', 'app.py']);
    expect(splitCommandLine(`  python3 -S "my app.py" 'a b' c\\ d "q\\"x" `)).toEqual(['python3', '-S', 'my app.py', 'a b', 'c d', 'q"x']);
    expect(splitCommandLine('./proc "" $HOME')).toEqual(['./proc', '', '$HOME']);
    expect(() => splitCommandLine('python3 "app.py')).toThrow(CommandLineError);
    expect(() => splitCommandLine('   ')).toThrow(/empty/);
  });
});
