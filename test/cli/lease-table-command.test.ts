/**
 * `kcl-lambda lease-table check` against dynalite (and kinesalite with --stream): a
 * table seeded as KCL 3.5 leaves it, a simulated KCL worker renewing its leases through
 * the real client during the cut-over, and the runtime's writes losing to it meanwhile.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { COMMANDS } from '../../cli/commands';
import { usage } from '../../cli/kcl-lambda';
import { withKclProcessor } from '../../lambda';
import { createKclHandler } from '../../lambda/lifecycle/kcl-engine';
import { leaseTableCli } from '../support/lease-table-cli';
import { type LoggedRecord, SimulatedKclWorker, createKcl3Table, getRow, kcl35Lease, kcl35NonLeaseRows } from '../support/kcl-lease-table';
import { recordLogProcessors } from '../support/record-log-processor';
import { type RuntimeHarness, kinesisEvent, memoryLogger, sequenceNumbers } from '../support/runtime-harness';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARDS = ['shardId-000000000000', 'shardId-000000000001'];

async function until(condition: () => boolean, what: string): Promise<void> {
  // A generous deadline: only a hang fails, never a slow machine.
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 60_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('kcl-lambda lease-table check', () => {
  const cli = leaseTableCli();
  const { check, printed } = cli;
  const output = () => printed().split('\n');
  let harness: RuntimeHarness;
  let tableName: string;
  beforeEach(() => {
    harness = cli.harness;
    tableName = cli.tableName;
  });
  const seqs = sequenceNumbers(4);

  test('is registered in the kcl-lambda bin', () => {
    expect(COMMANDS.map((command) => command.name)).toContain('lease-table');
    expect(usage()).toContain('lease-table  check a KCL lease table before and after a cut-over between KCL and Lambda');
  });

  test("the README's command, as a process (npx tsx cli/kcl-lambda.ts lease-table check ...): exit 0 when safe, 1 when not", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npx tsx cli/kcl-lambda.ts lease-table check --table <lease table> --to lambda');
    const run = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        // Asynchronously: dynalite runs in this process and must answer meanwhile.
        execFile(
          'npx',
          ['tsx', 'cli/kcl-lambda.ts', 'lease-table', 'check', '--table', tableName, '--to', 'lambda', '--endpoint', harness.dynamoDbEndpoint, '--watch-seconds', '0', ...args],
          { cwd: ROOT, env: process.env },
          (error, stdout, stderr) => {
            if (error && typeof error.code !== 'number') reject(error);
            else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
          },
        );
      });
    await harness.putRow(tableName, kcl35Lease(SHARDS[0], { checkpoint: seqs[0] }));
    const safe = await run();
    expect(safe.stdout).toContain(`${SHARDS[0]}: kcl-worker-a (KCL), checkpoint ${seqs[0]}, leaseCounter 17 (not renewed)`);
    expect(safe.stdout).toContain('Safe to enable the event source mapping');
    expect(safe.code).toBe(0);

    await harness.putRow(tableName, kcl35Lease(SHARDS[1], { leaseOwner: 'kcl-worker-b', checkpointOwner: 'kcl-worker-a' }));
    const unsafe = await run();
    expect(unsafe.stdout).toContain('NOT SAFE');
    expect(unsafe.code).toBe(1);
  });

  test('bad arguments: exit 2 with the reason and the usage', async () => {
    await expect(cli.run(['lease-table', 'check'])).resolves.toBe(2);
    expect(printed()).toContain('--table is required');
    await expect(check('--to', 'sideways')).resolves.toBe(2);
    expect(printed()).toContain('--to must be lambda or kcl, got "sideways"');
    await expect(check('--watch-seconds', 'soon')).resolves.toBe(2);
    expect(printed()).toContain('--watch-seconds must be a number of seconds, got "soon"');
  });

  test('KCL -> Lambda while a KCL worker still renews: NOT SAFE, and every Lambda write loses its race meanwhile', async () => {
    for (const shardId of SHARDS) await harness.putRow(tableName, kcl35Lease(shardId, { checkpoint: seqs[0] }));
    for (const row of kcl35NonLeaseRows()) await harness.putRow(tableName, row);
    const worker = new SimulatedKclWorker(harness.admin, tableName, 'kcl-worker-a');
    for (const shardId of SHARDS) await worker.adopt(shardId);
    worker.startRenewing(50);
    try {
      await expect(check('--to', 'lambda', '--watch-seconds', '2')).resolves.toBe(1);
      expect(printed()).toMatch(/UNSAFE: KCL workers renewed 2 lease\(s\) in 2 s \(kcl-worker-a\)/);
      expect(printed()).toContain('Stop every KCL worker of this application, then run this check again');
      expect(printed()).toContain('NOT SAFE');

      // The runtime meanwhile: the worker renews while each batch is processed, so every write loses.
      const log: LoggedRecord[] = [];
      const processors = recordLogProcessors(log);
      const factory = (shardId: string) => {
        const processor = processors.factory(shardId);
        return {
          ...processor,
          processRecords: async (input: Parameters<typeof processor.processRecords>[0]) => {
            // processRecords runs after the runtime's read: a renewal from here on beats its write.
            const renewals = worker.renewalsOf(input.shardId);
            await until(() => worker.renewalsOf(input.shardId) > renewals, 'a renewal');
            await processor.processRecords(input);
          },
        };
      };
      const handler = withKclProcessor(factory, harness.options(tableName, { logger: memoryLogger() }));
      const event = kinesisEvent('arn:aws:kinesis:us-east-1:000000000000:stream/orders', SHARDS[0], seqs.map((sequenceNumber) => ({ sequenceNumber })));
      for (let attempt = 0; attempt < 3; attempt++) {
        await expect(handler(event)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: seqs[1] }] });
      }
      expect(processors.calls.filter((call) => call.startsWith('leaseLost'))).toHaveLength(3);
      // Delivered three times, checkpointed never: the records repeat until the workers stop.
      expect(log).toHaveLength(9);
      expect(worker.lost).toEqual([]);
      expect((await getRow(harness.admin, tableName, SHARDS[0]))?.checkpoint).toEqual({ S: seqs[0] });
    } finally {
      await worker.stop();
    }

    await expect(check('--to', 'lambda', '--watch-seconds', '1')).resolves.toBe(0);
    expect(printed()).toContain('SAFE: nothing found that could lose or repeat a record.');
    expect(printed()).toContain('Safe to enable the event source mapping');
    expect(printed()).toContain(`${SHARDS[0]}: kcl-worker-a (KCL), checkpoint ${seqs[0]}`);
    expect(printed()).toContain(
      'INFO: Rows that are not leases (KCL 3 state; the runtime never reads or writes them): WORKER_METRIC_STATS kcl-worker-a; LEADER Leader; ' +
        'CLIENT_VERSION_MIGRATION Migration3.0; TABLE_MIGRATION TableMigration3.5; STREAM 123456789012:orders:1764600000000',
    );
    expect(printed()).toContain('index LeaseOwnerToLeaseKeyIndex present');
  });

  test('a handoff left half done (unchanged during the watch, no lease renewed): a warning, and the next step finishes it', async () => {
    await harness.putRow(tableName, kcl35Lease(SHARDS[0], { leaseOwner: 'kcl-worker-b', checkpointOwner: 'kcl-worker-a' }));
    await expect(check('--to', 'lambda', '--watch-seconds', '0.2')).resolves.toBe(0);
    expect(printed()).toContain(`WARNING: 1 lease(s) are stuck in a KCL 3 handoff (checkpointOwner set and unchanged during the watch, no lease renewed: its workers stopped midway): ${SHARDS[0]}.`);
    expect(printed()).not.toContain('UNSAFE');
    expect(printed()).toContain('handoff from kcl-worker-a');
    const step = output().find((line) => line.includes(`Finish the handoff of ${SHARDS[0]}`));
    expect(step).toContain('start one KCL worker to finish it');
    expect(step).toContain(`remove checkpointOwner with: aws dynamodb update-item --table-name ${tableName} `);

    // The printed command does what it says (awscli against dynalite).
    const command = step!.slice(step!.indexOf('with: ') + 'with: '.length);
    // Asynchronously: dynalite runs in this process and must answer meanwhile.
    await promisify(execFile)('bash', ['-c', `${command} --endpoint-url ${harness.dynamoDbEndpoint}`], { env: { ...process.env, AWS_DEFAULT_REGION: 'us-east-1' } });
    const row = await getRow(harness.admin, tableName, SHARDS[0]);
    expect(row?.checkpointOwner).toBeUndefined();
    expect(row?.leaseOwner).toEqual({ S: 'kcl-worker-b' });
    await expect(check('--to', 'lambda', '--watch-seconds', '0.2')).resolves.toBe(0);
    expect(printed()).not.toContain('handoff');
  });

  test('a handoff beside a renewing KCL worker, or seen in a single read, is NOT SAFE', async () => {
    await harness.putRow(tableName, kcl35Lease(SHARDS[0], { leaseOwner: 'kcl-worker-b', checkpointOwner: 'kcl-worker-a' }));
    await expect(check('--watch-seconds', '0')).resolves.toBe(1);
    expect(printed()).toContain(`UNSAFE: 1 lease(s) are being handed over between KCL workers (checkpointOwner set: ${SHARDS[0]})`);

    await harness.putRow(tableName, kcl35Lease(SHARDS[1], { checkpoint: seqs[0], leaseOwner: 'kcl-worker-b' }));
    const worker = new SimulatedKclWorker(harness.admin, tableName, 'kcl-worker-b');
    await worker.adopt(SHARDS[1]);
    worker.startRenewing(50);
    try {
      await expect(check('--watch-seconds', '1')).resolves.toBe(1);
    } finally {
      await worker.stop();
    }
    expect(printed()).toContain(`UNSAFE: 1 lease(s) are being handed over between KCL workers (checkpointOwner set: ${SHARDS[0]})`);
    expect(printed()).not.toContain('stuck in a KCL 3 handoff');
  });

  test("the runtime's note on a handoff row shows since when Lambda waits", async () => {
    await harness.putRow(tableName, kcl35Lease(SHARDS[0], { checkpoint: seqs[0], leaseOwner: 'kcl-worker-b', checkpointOwner: 'kcl-worker-a' }));
    const handler = createKclHandler(recordLogProcessors([]).factory, harness.options(tableName, { logger: memoryLogger() }), { handoffWaitMs: 0 });
    const noted = Date.now();
    await handler(kinesisEvent('arn:aws:kinesis:us-east-1:000000000000:stream/orders', SHARDS[0], [{ sequenceNumber: seqs[1] }]));
    await expect(check('--watch-seconds', '0')).resolves.toBe(1);
    const since = /handoff from kcl-worker-a \(Lambda waiting since (\S+)\)/.exec(printed());
    expect(since).not.toBeNull();
    expect(Math.abs(new Date(since![1]).getTime() - noted)).toBeLessThan(60_000);
  });

  test('Lambda -> KCL while the mapping still delivers: NOT SAFE; once Lambda stops writing: SAFE, with its owners and positions', async () => {
    await harness.putRow(tableName, kcl35Lease(SHARDS[0], { checkpoint: seqs[0] }));
    const handler = withKclProcessor(recordLogProcessors([]).factory, harness.options(tableName, { logger: memoryLogger() }));
    let delivering = true;
    let next = 1;
    const deliveries = (async () => {
      while (delivering && next < 200) {
        const seq = sequenceNumbers(1, BigInt(seqs[0]) + BigInt(next++) * 1000n);
        await handler(kinesisEvent('arn:aws:kinesis:us-east-1:000000000000:stream/orders', SHARDS[0], [{ sequenceNumber: seq[0] }]));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await until(() => next > 2, 'a Lambda checkpoint');
      await expect(check('--to', 'kcl', '--watch-seconds', '1')).resolves.toBe(1);
      expect(printed()).toMatch(/UNSAFE: Lambda checkpointed 1 lease\(s\) in 1 s \(kcl-lambda:/);
      expect(printed()).toContain('Disable the event source mapping');
    } finally {
      delivering = false;
      await deliveries;
    }
    await expect(check('--to', 'kcl', '--watch-seconds', '0.5')).resolves.toBe(0);
    const row = await getRow(harness.admin, tableName, SHARDS[0]);
    expect(printed()).toContain(`${SHARDS[0]}: ${row?.leaseOwner?.S} (Lambda), checkpoint ${row?.checkpoint?.S}, leaseCounter ${row?.leaseCounter?.N} (not renewed)`);
    expect(printed()).toContain('Safe to start the KCL workers');
  });

  test('reports a missing index, parents not at SHARD_END and corrupt lease rows', async () => {
    tableName = await createKcl3Table(harness.admin, false);
    cli.useTable(tableName);
    await harness.putRow(tableName, kcl35Lease('shardId-000000000000', { checkpoint: seqs[2] }));
    await harness.putRow(tableName, kcl35Lease('shardId-000000000002', { checkpoint: 'TRIM_HORIZON', parentShardIds: ['shardId-000000000000'] }));
    await expect(check('--watch-seconds', '0.2')).resolves.toBe(0);
    expect(printed()).toContain('WARNING: No LeaseOwnerToLeaseKeyIndex: KCL 3 workers create it when they start');
    expect(printed()).toContain('INFO: shardId-000000000002 waits for its parent(s) shardId-000000000000 to reach SHARD_END');

    await harness.putRow(tableName, { ...kcl35Lease('shardId-000000000003'), checkpoint: { S: 'halfway' } });
    await expect(check('--watch-seconds', '0')).resolves.toBe(1);
    expect(printed()).toContain('UNSAFE: Lease rows the runtime cannot read');
    expect(printed()).toContain('WARNING: Read once (--watch-seconds 0)');
  });

  test('--stream: multi-stream keys with another creation epoch than the runtime derives are NOT SAFE; shards without a lease are listed', async () => {
    const stream = await harness.newStream(2);
    const summary = await harness.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream.streamName }));
    const seconds = Math.floor(summary.StreamDescriptionSummary!.StreamCreationTimestamp!.getTime() / 1000);
    const identifier = `000000000000:${stream.streamName}:${seconds}`;
    await harness.putRow(tableName, kcl35Lease(`${identifier}:${stream.shardIds[0]}`, { streamName: identifier, shardId: stream.shardIds[0] }));
    const args = ['--stream', stream.streamName, '--kinesis-endpoint', harness.kinesisEndpoint, '--watch-seconds', '0.2', '--to', 'lambda'];

    await expect(check(...args)).resolves.toBe(1);
    expect(printed()).toContain(`UNSAFE: Multi-stream leases of ${stream.streamName} carry a creation epoch other than the stream's creation time in milliseconds`);
    expect(printed()).toContain(`Shards of ${stream.streamName} without a lease (they start at the starting position): ${stream.shardIds[1]}`);
    expect(printed()).toContain('deploy with leaseKeys LeaseKeys.MULTI_STREAM');

    // Keyed the way the runtime keys them: safe.
    await harness.admin.send(
      new UpdateItemCommand({ TableName: tableName, Key: { leaseKey: { S: `${identifier}:${stream.shardIds[0]}` } }, UpdateExpression: 'SET entityType = :stream', ExpressionAttributeValues: { ':stream': { S: 'STREAM' } } }),
    );
    const millis = `000000000000:${stream.streamName}:${summary.StreamDescriptionSummary!.StreamCreationTimestamp!.getTime()}`;
    await harness.putRow(tableName, kcl35Lease(`${millis}:${stream.shardIds[0]}`, { streamName: millis, shardId: stream.shardIds[0] }));
    await expect(check(...args)).resolves.toBe(0);
  });
});
