import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { CliCommand } from './cli-command';
import { type CutOverDirection, checkLeaseTable } from './lease-table-check';
import { formatLeaseTableReport } from './lease-table-report';

const USAGE = `Usage: kcl-lambda lease-table check --table <name> [options]

Reads a KCL lease table twice and says whether a cut-over between KCL and Lambda
may go on. Exit 0: safe; 1: not safe (the findings say why); 2: bad arguments.

  --table <name>             the lease (checkpoint) table
  --to <lambda|kcl>          the cut-over about to happen: lambda (KCL workers must be
                             stopped) or kcl (Lambda must have stopped writing)
  --watch-seconds <n>        time between the two reads (default 20: longer than KCL's
                             default failover time, so every live worker renews once)
  --stream <name>            also check the stream's shards and multi-stream keys
  --region <region>          AWS region (default: the AWS environment)
  --endpoint <url>           DynamoDB endpoint (e.g. a local emulator)
  --kinesis-endpoint <url>   Kinesis endpoint (with --stream)
  --help`;

const DEFAULT_WATCH_SECONDS = 20;

class UsageError extends Error {}

/** Where the command writes; tests capture it. */
export interface LeaseTableCommandIo {
  readonly print: (line: string) => void;
  readonly printError: (line: string) => void;
}

/** `kcl-lambda lease-table check`: the cut-over check between KCL and Lambda. */
export function leaseTableCommand(io: LeaseTableCommandIo = { print: console.log, printError: console.error }): CliCommand {
  return {
    name: 'lease-table',
    summary: 'check a KCL lease table before and after a cut-over between KCL and Lambda',
    run: async (args) => {
      let options: CheckArguments | 'help';
      try {
        options = parseCheckArguments(args);
      } catch (error) {
        if (!(error instanceof UsageError || (error instanceof Error && 'code' in error))) throw error;
        io.printError(`kcl-lambda lease-table: ${error.message}\n\n${USAGE}`);
        return 2;
      }
      if (options === 'help') {
        io.print(USAGE);
        return 0;
      }
      const dynamoDb = new DynamoDBClient({ region: options.region, endpoint: options.endpoint });
      const kinesis = options.streamName
        ? new KinesisClient({ region: options.region, endpoint: options.kinesisEndpoint, requestHandler: new NodeHttpHandler() })
        : undefined;
      try {
        const report = await checkLeaseTable({
          dynamoDb,
          kinesis,
          tableName: options.tableName,
          streamName: options.streamName,
          watchMs: options.watchSeconds * 1000,
          direction: options.direction,
        });
        for (const line of formatLeaseTableReport(report)) io.print(line);
        return report.safe ? 0 : 1;
      } finally {
        dynamoDb.destroy();
        kinesis?.destroy();
      }
    },
  };
}

interface CheckArguments {
  readonly tableName: string;
  readonly direction?: CutOverDirection;
  readonly watchSeconds: number;
  readonly streamName?: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly kinesisEndpoint?: string;
}

function parseCheckArguments(args: readonly string[]): CheckArguments | 'help' {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      to: { type: 'string' },
      'watch-seconds': { type: 'string' },
      stream: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      'kinesis-endpoint': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0] !== 'check') {
    throw new UsageError(positionals.length === 0 ? 'missing the subcommand (check)' : `unknown subcommand "${positionals.join(' ')}"`);
  }
  if (!values.table) throw new UsageError('--table is required');
  const to = values.to;
  if (to !== undefined && to !== 'lambda' && to !== 'kcl') throw new UsageError(`--to must be lambda or kcl, got "${to}"`);
  const watch = values['watch-seconds'] ?? String(DEFAULT_WATCH_SECONDS);
  const watchSeconds = Number(watch);
  if (!/^\d+(\.\d+)?$/.test(watch) || !Number.isFinite(watchSeconds)) throw new UsageError(`--watch-seconds must be a number of seconds, got "${watch}"`);
  return {
    tableName: values.table,
    direction: to,
    watchSeconds,
    streamName: values.stream,
    region: values.region,
    endpoint: values.endpoint,
    kinesisEndpoint: values['kinesis-endpoint'],
  };
}
