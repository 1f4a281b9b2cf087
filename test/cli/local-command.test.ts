import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localCommand } from '../../cli/local-command';
import { readCloudAssembly, synthesizeApp } from '../../local/mapping/cloud-assembly';
import { consumerCandidates } from '../../local/mapping/consumer-selection';
import { PYTHON_FIXTURE } from '../lambda/multilang/multilang-harness';

const fixtures = join(__dirname, 'fixtures');
const recordingHandler = join(fixtures, 'recording-handler.ts');
const appCommand = `npx tsx ${join(fixtures, 'two-consumers-app.ts')}`;

interface Seen {
  applicationName?: string;
  checkpointTable?: string;
  records: number;
}

let assembly: string;
let errors: string[];
let logs: string[];

beforeAll(() => {
  assembly = synthesizeApp(appCommand);
}, 120_000);

beforeEach(() => {
  errors = [];
  logs = [];
  jest.spyOn(console, 'error').mockImplementation((...line: unknown[]) => void errors.push(line.join(' ')));
  jest.spyOn(console, 'log').mockImplementation((...line: unknown[]) => void logs.push(line.join(' ')));
  delete (globalThis as { recordingHandlerSaw?: Seen }).recordingHandlerSaw;
});
afterEach(() => jest.restoreAllMocks());

const seen = () => (globalThis as { recordingHandlerSaw?: Seen }).recordingHandlerSaw;

test('the synthesized app names each KclConsumer by its construct path', () => {
  const names = consumerCandidates(readCloudAssembly(assembly)).map((candidate) => [candidate.name, candidate.isKclConsumer]);
  expect(names.sort()).toEqual([
    ['Shop/Orders', true],
    ['Shop/Payments', true],
  ]);
});

test('--consumer runs that consumer with its settings, and the module sees the function environment when it loads', async () => {
  const code = await localCommand.run(['--handler', recordingHandler, '--app', assembly, '--consumer', 'Payments', '--records', '60']);
  expect({ code, errors: code === 0 ? [] : errors }).toEqual({ code: 0, errors: [] });
  const text = logs.join('\n');
  expect(text).toContain(`Event source mapping (Shop/Payments, cloud assembly ${assembly}): batch size 20`);
  expect(text).toContain('OK: nothing discarded');
  expect(seen()?.applicationName).toBe('payments-app');
  expect(seen()?.checkpointTable).toMatch(/^kcl-lambda-demo-.*-checkpoints$/);
  // Every produced record parsed as JSON: 60 first deliveries (two failed once on purpose, then retried).
  expect(seen()?.records).toBeGreaterThanOrEqual(60);
});

test('--app with a command synthesizes the app; a construct path with the stack name selects too', async () => {
  const code = await localCommand.run(['--handler', recordingHandler, '--app', appCommand, '--consumer', 'Shop/Orders', '--records', '20']);
  expect({ code, errors: code === 0 ? [] : errors }).toEqual({ code: 0, errors: [] });
  expect(logs.join('\n')).toContain(`Event source mapping (Shop/Orders, synthesized from ${appCommand}): batch size 50`);
  expect(seen()?.applicationName).toBe('orders-app');
}, 120_000);

test('--template reads one synthesized template; its path metadata names the consumers', async () => {
  const template = join(assembly, 'Shop.template.json');
  const code = await localCommand.run(['--handler', recordingHandler, '--template', template, '--consumer', 'Orders', '--records', '20']);
  expect({ code, errors: code === 0 ? [] : errors }).toEqual({ code: 0, errors: [] });
  expect(logs.join('\n')).toContain(`Event source mapping (Shop/Orders, template ${template}): batch size 50`);
});

test('several consumers and no --consumer: one error that lists them', async () => {
  await expect(localCommand.run(['--handler', recordingHandler, '--app', assembly])).resolves.toBe(1);
  expect(errors.join('\n')).toBe(
    'kcl-lambda local: error: The app has 2 consumers; choose one with --consumer <construct path or id>:\n  Shop/Orders\n  Shop/Payments',
  );
  expect(seen()).toBeUndefined();
});

test('a --consumer that matches nothing lists what there is', async () => {
  await expect(localCommand.run(['--handler', recordingHandler, '--app', assembly, '--consumer', 'Refunds'])).resolves.toBe(1);
  expect(errors.join('\n')).toContain('No consumer matches --consumer Refunds; the app has:\n  Shop/Orders\n  Shop/Payments');
});

test('a --consumer that matches several says which', async () => {
  await expect(localCommand.run(['--handler', recordingHandler, '--app', assembly, '--consumer', 'Shop'])).resolves.toBe(1);
  expect(errors.join('\n')).toContain('--consumer Shop matches 2 consumers; name one of them:\n  Shop/Orders\n  Shop/Payments');
});

test('a handler that fails every record stops the run at once with its error', async () => {
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const code = await localCommand.run(['--handler', join(fixtures, 'failing-handler.ts'), '--app', assembly, '--consumer', 'Orders']);
  stderr.mockRestore();
  expect(code).toBe(1);
  expect(errors.join('\n')).toMatch(
    /^kcl-lambda local: error: Every invocation failed \(5 of 5, no record processed\); stopping\. Last error: processRecords failed; .*: Error: cannot save order record-\d+: table Orders not found$/,
  );
});

test('--multilang runs a MultiLang processor with the app settings (the flag npm start shares)', async () => {
  const code = await localCommand.run(['--multilang', `python3 -S ${PYTHON_FIXTURE}`, '--app', assembly, '--consumer', 'Orders', '--records', '40']);
  expect({ code, errors: code === 0 ? [] : errors }).toEqual({ code: 0, errors: [] });
  expect(logs.join('\n')).toContain('Event source mapping (Shop/Orders, cloud assembly');
  expect(logs.join('\n')).toContain('withMultiLangProcessor (kcl2)');
});

describe('usage errors exit 2', () => {
  test('--handler and --multilang together', async () => {
    await expect(localCommand.run(['--handler', recordingHandler, '--multilang', 'python3 x.py', '--app', assembly])).resolves.toBe(2);
    expect(errors.join('\n')).toContain('give either --handler or --multilang, not both');
  });

  test('no --handler', async () => {
    await expect(localCommand.run(['--app', assembly])).resolves.toBe(2);
    expect(errors.join('\n')).toContain('--handler <module> (or --multilang <command>) is required');
  });

  test('an unknown flag', async () => {
    await expect(localCommand.run(['--handler', recordingHandler, '--bogus'])).resolves.toBe(2);
    expect(errors.join('\n')).toMatch(/Unknown option '--bogus'/);
  });

  test('--template and --app together', async () => {
    await expect(localCommand.run(['--handler', recordingHandler, '--app', assembly, '--template', 'x.json'])).resolves.toBe(2);
    expect(errors.join('\n')).toContain('--template and --app both name the settings; give one.');
  });
});

test('a handler module that does not compile names the file and line', async () => {
  const broken = join(mkdtempSync(join(tmpdir(), 'kcl-local-test-')), 'broken-handler.ts');
  writeFileSync(broken, 'export const handler = async () => {\n  return {{ not valid\n};\n');
  const code = await localCommand.run(['--handler', broken, '--app', assembly, '--consumer', 'Orders']);
  expect(code).toBe(1);
  expect(errors.join('\n')).toMatch(/Processor module .*broken-handler\.ts does not compile: .*broken-handler\.ts:2: /);
});
