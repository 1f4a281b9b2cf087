/**
 * The construct's entry (`require('kcl-lambda')`, lib/index.ts) is loaded by CDK apps at
 * synth time, where the runtime's AWS SDK clients are dead weight (and may be absent):
 * requiring it must load no `@aws-sdk/*` module. Checked in a fresh process, since
 * jest's own module registry is shared with the tests that use the SDK.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function load(entry: string): { exported: string[]; loaded: string[] } {
  const script =
    "require('tsx/cjs');" +
    `const exported = require(${JSON.stringify(entry)});` +
    'process.stdout.write(JSON.stringify({ exported: Object.keys(exported), loaded: Object.keys(require.cache) }));';
  const { exported, loaded } = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as {
    exported: string[];
    loaded: string[];
  };
  return { exported, loaded: loaded.map((file) => path.relative(ROOT, file)) };
}

describe('the lib entry', () => {
  test('loads no AWS SDK module', () => {
    const { exported, loaded } = load('./lib');
    expect(exported).toContain('KclConsumer');
    // The probe itself works: the construct's own files are in the cache.
    expect(loaded).toContain(path.join('lib', 'kcl-consumer.ts'));
    expect(loaded.filter((file) => file.includes(`node_modules${path.sep}@aws-sdk${path.sep}`))).toEqual([]);
  });

  test('the probe sees the SDK where it is loaded (the runtime handler entry)', () => {
    const { loaded } = load('./lambda/with-kcl-processor');
    expect(loaded.filter((file) => file.includes(`node_modules${path.sep}@aws-sdk${path.sep}`)).length).toBeGreaterThan(0);
  });
});
