import { parseArgs } from 'node:util';
import type { DemoOptions, Reshard } from './demo';

/** A bad flag or value on the command line (exit code 2, after the usage). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One command-line option: how `parseArgs` reads it, and its line in the usage text. */
export interface RunOptionDefinition {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in the usage text, e.g. `<n>`. */
  readonly value?: string;
  /** The usage text; lines after the first are indented under it. */
  readonly help: string;
}

export type RunOptionDefinitions = Readonly<Record<string, RunOptionDefinition>>;

/**
 * The options of a local run, shared by `npm start` (bin/local.ts) and
 * `kcl-lambda local` (cli/local-command.ts), so a flag added here works in both.
 */
export const RUN_OPTIONS = {
  multilang: {
    type: 'string',
    value: '<command>',
    help: 'run a KCL MultiLang processor instead (e.g. "python3 app.py"; no shell)',
  },
  'multilang-dialect': {
    type: 'string',
    value: '<d>',
    help: 'the protocol it speaks: kcl2 (KCL 2.x/3.x, amazon_kclpy >= 2; default)\nor kcl1 (KCL 1.x, the Go client)',
  },
  records: { type: 'string', value: '<n>', help: 'user records to produce (default 1000)' },
  shards: { type: 'string', value: '<n>', help: 'shards of the demo stream (default 2)' },
  'fail-rate': { type: 'string', value: '<p>', help: 'chance each record fails on its first delivery (default 0)' },
  reshard: { type: 'string', value: '<split,merge>', help: 'reshards done midway, in order (default split)' },
  stream: { type: 'string', value: '<name>', help: 'consume this existing stream instead of creating one' },
  template: { type: 'string', value: '<file>', help: 'read the event source mapping from a synthesized template' },
  'batch-size': { type: 'string', value: '<n>', help: "override the template's batch size" },
  'kinesis-endpoint': { type: 'string', value: '<url>', help: 'use this Kinesis endpoint instead of starting kinesalite' },
  'dynamodb-endpoint': { type: 'string', value: '<url>', help: 'use this DynamoDB endpoint instead of starting dynalite' },
  'on-failure-file': { type: 'string', value: '<file>', help: 'where on-failure records are appended (default: a temp file)' },
  verbose: { type: 'boolean', help: "print the runtime's warnings and errors as they happen" },
  help: { type: 'boolean', short: 'h', help: 'this text' },
} as const satisfies RunOptionDefinitions;

/** The usage lines of the definitions, aligned. */
export function optionsHelp(definitions: RunOptionDefinitions): string {
  const heads = Object.entries(definitions).map(([name, definition]) => `--${name}${definition.value ? ` ${definition.value}` : ''}`);
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  return Object.values(definitions)
    .map((definition, index) => {
      const [first, ...rest] = definition.help.split('\n');
      return [`  ${heads[index].padEnd(width)} ${first}`, ...rest.map((line) => `  ${' '.repeat(width)} ${line}`)].join('\n');
    })
    .join('\n');
}

export type ParsedValues = Record<string, string | boolean | undefined>;

/** Parses strictly (unknown flags and positionals are usage errors). */
export function parseRunArgs(argv: readonly string[], definitions: RunOptionDefinitions): ParsedValues {
  const options = Object.fromEntries(
    Object.entries(definitions).map(([name, { type, short }]) => [name, short ? { type, short } : { type }]),
  );
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as ParsedValues;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The demo options the shared flags ask for. */
export function demoOptionsFrom(values: ParsedValues): DemoOptions {
  const reshards = string(values.reshard)?.split(',').map((item) => item.trim()).filter(Boolean);
  for (const reshard of reshards ?? []) {
    if (reshard !== 'split' && reshard !== 'merge') throw new UsageError(`--reshard takes split and/or merge, got ${reshard}`);
  }
  const dialect = string(values['multilang-dialect']);
  if (dialect !== undefined && dialect !== 'kcl2' && dialect !== 'kcl1') throw new UsageError(`--multilang-dialect takes kcl2 or kcl1, got ${dialect}`);
  if (dialect !== undefined && values.multilang === undefined) throw new UsageError('--multilang-dialect needs --multilang');
  const batchSize = integer(values['batch-size'], '--batch-size');
  return {
    multilang: string(values.multilang),
    multilangDialect: dialect,
    records: integer(values.records, '--records'),
    shards: integer(values.shards, '--shards'),
    failRate: fraction(values['fail-rate'], '--fail-rate'),
    reshards: reshards as Reshard[] | undefined,
    stream: string(values.stream),
    template: string(values.template),
    overrides: batchSize !== undefined ? { batchSize } : undefined,
    kinesisEndpoint: string(values['kinesis-endpoint']),
    dynamoDbEndpoint: string(values['dynamodb-endpoint']),
    onFailureFile: string(values['on-failure-file']),
    verbose: values.verbose === true ? true : undefined,
  };
}

function string(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function integer(value: string | boolean | undefined, flag: string): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} takes a positive integer, got ${value}`);
  return Number(value);
}

function fraction(value: string | boolean | undefined, flag: string): number | undefined {
  if (typeof value !== 'string') return undefined;
  const number = Number(value);
  if (value.trim() === '' || !(number >= 0 && number < 1)) throw new UsageError(`${flag} takes a number in [0, 1), got ${value}`);
  return number;
}
