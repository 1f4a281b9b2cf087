/**
 * What the CLI tests share: dynalite and kinesalite in-process, the AWS environment the
 * CLI's own clients read, a fresh KCL 3 lease table per test, and
 * `kcl-lambda lease-table check` run in-process against it with its output captured.
 * Call at the top of a describe block: it registers the block's hooks.
 */
import { main } from '../../cli/kcl-lambda';
import { leaseTableCommand } from '../../cli/lease-table-command';
import { isolateEnvironment } from './environment';
import { createKcl3Table } from './kcl-lease-table';
import { type RuntimeHarness, startRuntimeHarness } from './runtime-harness';

/** Credentials and region for the emulators; the CLI's clients read them from the environment. */
export const EMULATOR_ENVIRONMENT = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' } as const;

export interface LeaseTableCli {
  readonly harness: RuntimeHarness;
  /** This test's table (a KCL 3 table with its index, unless replaced with `useTable`). */
  readonly tableName: string;
  useTable(tableName: string): void;
  /** `kcl-lambda <args>` with only the lease-table command; its exit code. */
  run(args: readonly string[]): Promise<number>;
  /** `kcl-lambda lease-table check --table <this test's> --endpoint <dynalite> <args>`. */
  check(...args: string[]): Promise<number>;
  /** What the last run printed (stdout and stderr). */
  printed(): string;
}

export function leaseTableCli(): LeaseTableCli {
  let harness: RuntimeHarness | undefined;
  let tableName = '';
  let output: string[] = [];
  isolateEnvironment(Object.keys(EMULATOR_ENVIRONMENT));
  beforeAll(async () => {
    harness = await startRuntimeHarness();
  });
  afterAll(async () => harness?.close());
  beforeEach(async () => {
    Object.assign(process.env, EMULATOR_ENVIRONMENT);
    tableName = await createKcl3Table(cli.harness.admin);
    output = [];
  });

  const cli: LeaseTableCli = {
    get harness() {
      if (!harness) throw new Error('leaseTableCli(): the harness starts in beforeAll');
      return harness;
    },
    get tableName() {
      return tableName;
    },
    useTable: (name) => void (tableName = name),
    run: (args) => {
      output = [];
      const capture = (line: string) => void output.push(line);
      return main([...args], [leaseTableCommand({ print: capture, printError: capture })]);
    },
    check: (...args) => cli.run(['lease-table', 'check', '--table', tableName, '--endpoint', cli.harness.dynamoDbEndpoint, ...args]),
    printed: () => output.join('\n'),
  };
  return cli;
}
