import { RUN_OPTIONS, UsageError, demoOptionsFrom, optionsHelp, parseRunArgs } from '../../../local/demo/run-options';

test('the shared flags become demo options', () => {
  const values = parseRunArgs(['--records', '10', '--reshard', 'split,merge', '--batch-size', '7', '--verbose'], RUN_OPTIONS);
  expect(demoOptionsFrom(values)).toMatchObject({ records: 10, reshards: ['split', 'merge'], overrides: { batchSize: 7 }, verbose: true });
});

test('bad values and unknown flags are usage errors', () => {
  expect(() => demoOptionsFrom(parseRunArgs(['--records', '0'], RUN_OPTIONS))).toThrow(new UsageError('--records takes a positive integer, got 0'));
  expect(() => demoOptionsFrom(parseRunArgs(['--fail-rate', '1'], RUN_OPTIONS))).toThrow('--fail-rate takes a number in [0, 1), got 1');
  expect(() => parseRunArgs(['--nope'], RUN_OPTIONS)).toThrow(UsageError);
});

test('the help lists every flag once, aligned', () => {
  const help = optionsHelp(RUN_OPTIONS).split('\n');
  expect(help.filter((line) => /^ {2}--/.test(line))).toHaveLength(Object.keys(RUN_OPTIONS).length);
  // Every description, and every continuation line, starts in the same column.
  const columns = help.map((line) => (/^ {2}--/.test(line) ? line.search(/(?<=\S {2,})\S/) : line.search(/\S/)));
  expect(new Set(columns).size).toBe(1);
  expect(columns[0]).toBeGreaterThan(10);
});
