/**
 * `npm run bench` loads the repository's TypeScript through bench/typescript-as-shipped.cjs,
 * so that it times the code the package ships (tsc's CommonJS output), not a dev-time
 * transpilation: exports are plain properties (no getters) and no function carries a
 * name-keeping helper call.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function runWithHook(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--require', './bench/typescript-as-shipped.cjs', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bench/typescript-as-shipped.cjs', () => {
  it('compiles TypeScript as the build does: plain exports, no name-keeping calls', () => {
    const result = runWithHook(`
      const numbers = require('./lambda/records/sequence-number.ts');
      const descriptor = Object.getOwnPropertyDescriptor(numbers, 'isAfter');
      console.log(JSON.stringify({
        plainExport: typeof descriptor.value === 'function' && descriptor.get === undefined,
        keepsNames: /__name\\(/.test(numbers.isAfter.toString()),
        works: numbers.isAfter({ sequenceNumber: '5', subSequenceNumber: 0 })({ sequenceNumber: '12', subSequenceNumber: 0 }),
      }));
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ plainExport: true, keepsNames: false, works: true });
  });

  it('loads the benchmark entry points and the ES-module-only tinybench', () => {
    const result = runWithHook(`
      const { Bench } = require('tinybench');
      const handlerOverhead = require('./bench/handler-overhead.bench.ts');
      const deaggregation = require('./bench/deaggregate.bench.ts');
      console.log([typeof Bench, typeof handlerOverhead.run, typeof deaggregation.run].join(' '));
    `);
    expect(result.stdout.trim()).toBe('function function function');
    expect(result.status).toBe(0);
  });
});
