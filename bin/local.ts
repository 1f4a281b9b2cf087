/**
 * `npm start`: runs a KCL record processor end to end on this machine —
 * kinesalite and dynalite in-process (or given endpoints), Lambda's event
 * source mapping emulated with the deployment's settings, the real runtime.
 */
import { parseArgs } from 'node:util';
import { runDemo, type DemoOptions, type Reshard } from '../local/demo/demo';

const USAGE = `Usage: npm start -- [options]

  --records <n>              user records to produce (default 1000)
  --shards <n>               shards of the demo stream (default 2)
  --processor <module>       module exporting a processor factory (createProcessor) or a handler
                             (default examples/counting-processor.ts)
  --multilang <command>      run a KCL MultiLang processor instead (e.g. "python3 app.py"; no shell)
  --multilang-dialect <d>    the protocol it speaks: kcl2 (KCL 2.x/3.x, amazon_kclpy >= 2; default)
                             or kcl1 (KCL 1.x, the Go client)
  --fail-rate <p>            chance each record fails on its first delivery (default 0)
  --reshard <split,merge>    reshards done midway, in order (default split)
  --stream <name>            consume this existing stream instead of creating one
  --template <file>          read the event source mapping from a synthesized template
                             (default: synthesize bin/app.ts in-process)
  --batch-size <n>           override the template's batch size
  --kinesis-endpoint <url>   use this Kinesis endpoint instead of starting kinesalite
  --dynamodb-endpoint <url>  use this DynamoDB endpoint instead of starting dynalite
  --on-failure-file <file>   where on-failure records are appended (default: a temp file)
  --verbose                  print the runtime's warnings and errors as they happen
  --help`;

class UsageError extends Error {}

function parseOptions(argv: string[]): DemoOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        records: { type: 'string' },
        shards: { type: 'string' },
        processor: { type: 'string' },
        multilang: { type: 'string' },
        'multilang-dialect': { type: 'string' },
        'fail-rate': { type: 'string' },
        reshard: { type: 'string' },
        stream: { type: 'string' },
        template: { type: 'string' },
        'batch-size': { type: 'string' },
        'kinesis-endpoint': { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        'on-failure-file': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const reshards = values.reshard?.split(',').map((item) => item.trim()).filter(Boolean);
  for (const reshard of reshards ?? []) {
    if (reshard !== 'split' && reshard !== 'merge') throw new UsageError(`--reshard takes split and/or merge, got ${reshard}`);
  }
  const dialect = values['multilang-dialect'];
  if (dialect !== undefined && dialect !== 'kcl2' && dialect !== 'kcl1') throw new UsageError(`--multilang-dialect takes kcl2 or kcl1, got ${dialect}`);
  if (dialect !== undefined && values.multilang === undefined) throw new UsageError('--multilang-dialect needs --multilang');
  if (values.multilang !== undefined && values.processor !== undefined) throw new UsageError('give either --processor or --multilang, not both');
  const batchSize = integer(values['batch-size'], '--batch-size');
  return {
    records: integer(values.records, '--records'),
    shards: integer(values.shards, '--shards'),
    processor: values.processor,
    multilang: values.multilang,
    multilangDialect: dialect,
    failRate: fraction(values['fail-rate'], '--fail-rate'),
    reshards: reshards as Reshard[] | undefined,
    stream: values.stream,
    template: values.template,
    overrides: batchSize !== undefined ? { batchSize } : undefined,
    kinesisEndpoint: values['kinesis-endpoint'],
    dynamoDbEndpoint: values['dynamodb-endpoint'],
    onFailureFile: values['on-failure-file'],
    verbose: values.verbose,
  };
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} takes a positive integer, got ${value}`);
  return Number(value);
}

function fraction(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !(number >= 0 && number < 1)) throw new UsageError(`${flag} takes a number in [0, 1), got ${value}`);
  return number;
}

async function main(): Promise<number> {
  let options: DemoOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const result = await runDemo(options);
    process.stdout.write(`${result.text}\n`);
    return result.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
