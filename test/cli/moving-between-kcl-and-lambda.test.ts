/**
 * The README's "Moving between KCL and Lambda", step by step, against kinesalite and
 * dynalite: a simulated KCL worker (KCL's lease rules through the real client) and the
 * runtime take turns on one KCL 3.5 table, each step checked with
 * `kcl-lambda lease-table check`, and a record log shows that no record is lost or
 * processed twice across either cut-over.
 */
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { type KinesisBatchHandler, withKclProcessor } from '../../lambda';
import { type LoggedRecord, SimulatedKclWorker, getRow, kcl35NonLeaseRows } from '../support/kcl-lease-table';
import { leaseTableCli } from '../support/lease-table-cli';
import { putRecords, readShard, toKinesisStreamEvent } from '../support/kinesis-stream';
import { recordLogProcessors } from '../support/record-log-processor';
import { type RuntimeHarness, type TestStream, memoryLogger } from '../support/runtime-harness';

/** KCL's default failover time: a lease whose counter stays put this long is expired. */
const FAILOVER_MS = 10_000;

describe('moving between KCL and Lambda', () => {
  const cli = leaseTableCli();
  let harness: RuntimeHarness;
  let stream: TestStream;
  let tableName: string;
  beforeEach(async () => {
    harness = cli.harness;
    tableName = cli.tableName;
    stream = await harness.newStream(2);
    // KCL 3.5 keeps its own rows in the table; they must not get in the way.
    for (const row of kcl35NonLeaseRows()) await harness.putRow(tableName, row);
  });

  /** The check, as the README gives it; `to` undefined: without --to. */
  const check = (to: 'lambda' | 'kcl' | undefined, watchSeconds = '1') =>
    cli.check(...(to ? ['--to', to] : []), '--watch-seconds', watchSeconds);
  const printed = () => cli.printed();
  const put = async (count: number, label: string) => {
    for (const shardId of stream.shardIds) {
      await putRecords(harness.kinesis, stream.streamName, Array.from({ length: count }, (_, index) => ({ data: `${label}-${index}` })), { shardId });
    }
  };
  /** Every record of the stream, per shard, in order. */
  const everything = async () => {
    const all: { shardId: string; sequenceNumber: string }[] = [];
    for (const shardId of stream.shardIds) {
      for (const record of await readShard(harness.kinesis, stream.streamName, shardId)) all.push({ shardId, sequenceNumber: record.SequenceNumber! });
    }
    return all;
  };
  /**
   * Lambda's event source mapping, enabled at TRIM_HORIZON: it delivers each shard's
   * records in batches of `batchSize`, from the first record (`from`: how many of each
   * shard's records it already delivered).
   */
  const deliver = async (handler: KinesisBatchHandler, from: number, count: number, batchSize = 4, atTimestamp?: Date) => {
    const responses: KinesisStreamBatchResponse[] = [];
    for (const shardId of stream.shardIds) {
      const all = await readShard(harness.kinesis, stream.streamName, shardId);
      // AT_TIMESTAMP: the mapping starts at the first record that arrived at or after the time.
      const positioned = atTimestamp ? all.filter((record) => record.ApproximateArrivalTimestamp!.getTime() >= atTimestamp.getTime()) : all;
      const records = positioned.slice(from, from + count);
      for (let start = 0; start < records.length; start += batchSize) {
        const event = toKinesisStreamEvent(shardId, records.slice(start, start + batchSize), { eventSourceARN: stream.streamArn });
        responses.push(await handler(event));
      }
    }
    return responses;
  };
  const keysOf = (log: readonly LoggedRecord[]) => log.map((record) => `${record.shardId}/${record.sequenceNumber}`);
  const expectExactlyOnce = async (log: readonly LoggedRecord[]) => {
    const all = (await everything()).map((record) => `${record.shardId}/${record.sequenceNumber}`);
    expect([...keysOf(log)].sort()).toEqual([...all].sort());
    expect(new Set(keysOf(log)).size).toBe(log.length);
  };

  test('KCL -> Lambda: stop the KCL workers, check, enable the mapping at TRIM_HORIZON: the runtime skips what KCL processed', async () => {
    const log: LoggedRecord[] = [];
    // KCL's shard sync created the leases; worker A took them and processed what was there.
    for (const shardId of stream.shardIds) {
      await harness.putRow(tableName, { leaseKey: { S: shardId }, leaseCounter: { N: '0' }, checkpoint: { S: 'TRIM_HORIZON' }, checkpointSubSequenceNumber: { N: '0' }, ownerSwitchesSinceCheckpoint: { N: '0' }, entityType: { S: 'LEASE' } });
    }
    const worker = new SimulatedKclWorker(harness.admin, tableName, 'kcl-worker-a');
    expect(await worker.takeExpiredLeases(FAILOVER_MS)).toEqual(stream.shardIds);
    await put(6, 'early');
    for (const shardId of stream.shardIds) await worker.processShard(harness.kinesis, stream.streamName, shardId, shardId, log);
    await put(5, 'late');

    // Step 1: the check refuses while the worker renews.
    worker.startRenewing(50);
    try {
      await expect(check('lambda')).resolves.toBe(1);
      expect(printed()).toContain('UNSAFE: KCL workers renewed 2 lease(s)');
    } finally {
      await worker.stop();
    }
    // Step 2: workers stopped; the check passes.
    await expect(check('lambda')).resolves.toBe(0);
    expect(printed()).toContain('Safe to enable the event source mapping');

    // Step 3: the mapping starts at TRIM_HORIZON and delivers everything; the runtime skips KCL's part.
    const handler = withKclProcessor(recordLogProcessors(log, 'lambda').factory, harness.options(tableName, { logger: memoryLogger() }));
    const responses = await deliver(handler, 0, 100);
    expect(responses.every((response) => response.batchItemFailures.length === 0)).toBe(true);

    await expectExactlyOnce(log);
    for (const shardId of stream.shardIds) {
      const own = log.filter((record) => record.shardId === shardId);
      expect(own.map((record) => record.by)).toEqual([...Array(6).fill('kcl-worker-a'), ...Array(5).fill('lambda')]);
      expect((await getRow(harness.admin, tableName, shardId))?.checkpoint).toEqual({ S: own[own.length - 1].sequenceNumber });
    }

    // Step 3: the check without --to passes, the leases now under kcl-lambda: owners ...
    await expect(check(undefined, '0.5')).resolves.toBe(0);
    for (const shardId of stream.shardIds) expect(printed()).toMatch(new RegExp(`${shardId}: kcl-lambda:\\S+ \\(Lambda\\)`));
    expect(printed()).toContain('SAFE: nothing found that could lose or repeat a record.');
    // ... and fails once a KCL worker shows up again: it takes the leases nobody renews and renews them.
    const returning = new SimulatedKclWorker(harness.admin, tableName, 'kcl-worker-c');
    const seen = Date.now();
    await returning.takeExpiredLeases(FAILOVER_MS, seen);
    expect(await returning.takeExpiredLeases(FAILOVER_MS, seen + FAILOVER_MS)).toEqual(stream.shardIds);
    returning.startRenewing(50);
    try {
      await expect(check(undefined, '1')).resolves.toBe(1);
    } finally {
      await returning.stop();
    }
    expect(printed()).toContain('UNSAFE: KCL workers renewed 2 lease(s)');
    expect(printed()).toContain('(kcl-worker-c)');
  });

  test('KCL -> Lambda at AT_TIMESTAMP before the oldest KCL checkpoint: what KCL processed after that time is skipped, nothing before it is missed', async () => {
    const log: LoggedRecord[] = [];
    for (const shardId of stream.shardIds) {
      await harness.putRow(tableName, { leaseKey: { S: shardId }, leaseCounter: { N: '0' }, checkpoint: { S: 'TRIM_HORIZON' }, checkpointSubSequenceNumber: { N: '0' }, ownerSwitchesSinceCheckpoint: { N: '0' }, entityType: { S: 'LEASE' } });
    }
    const worker = new SimulatedKclWorker(harness.admin, tableName, 'kcl-worker-a');
    expect(await worker.takeExpiredLeases(FAILOVER_MS)).toEqual(stream.shardIds);
    // Arrival times are whole seconds in kinesalite: the time lies in a gap of more than a second either side.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 1_500));
    await put(3, 'before');
    await pause();
    const atTimestamp = new Date();
    await pause();
    await put(3, 'after');
    for (const shardId of stream.shardIds) await worker.processShard(harness.kinesis, stream.streamName, shardId, shardId, log);
    await put(5, 'late');
    // The oldest KCL checkpoint is a record that arrived after the time.
    for (const shardId of stream.shardIds) {
      const checkpoint = (await getRow(harness.admin, tableName, shardId))?.checkpoint?.S;
      const record = (await readShard(harness.kinesis, stream.streamName, shardId)).find((candidate) => candidate.SequenceNumber === checkpoint);
      expect(record!.ApproximateArrivalTimestamp!.getTime()).toBeGreaterThan(atTimestamp.getTime());
    }
    await expect(check('lambda')).resolves.toBe(0);

    const handler = withKclProcessor(
      recordLogProcessors(log, 'lambda').factory,
      harness.options(tableName, { logger: memoryLogger(), startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: atTimestamp }),
    );
    const responses = await deliver(handler, 0, 100, 4, atTimestamp);
    expect(responses.every((response) => response.batchItemFailures.length === 0)).toBe(true);
    // The mapping delivered the 3 'after' records again: the runtime skipped them.
    expect(responses.length).toBe(2 * 2);

    await expectExactlyOnce(log);
    for (const shardId of stream.shardIds) {
      expect(log.filter((record) => record.shardId === shardId).map((record) => record.by)).toEqual([...Array(6).fill('kcl-worker-a'), ...Array(5).fill('lambda')]);
    }
  });

  test('Lambda -> KCL: disable the mapping, wait out the in-flight invocation, check, start KCL: it resumes exactly after Lambda', async () => {
    const log: LoggedRecord[] = [];
    await put(10, 'lambda-era');
    const handler = withKclProcessor(recordLogProcessors(log, 'lambda').factory, harness.options(tableName, { logger: memoryLogger() }));
    await deliver(handler, 0, 6);
    // The mapping is disabled while one batch per shard is in flight.
    const inFlight = deliver(handler, 6, 2);

    // Step 1: wait out the invocations in flight (in AWS: the function timeout). The
    // check refusing while Lambda still writes is in lease-table-command.test.ts.
    await inFlight;
    // Step 2: nothing moves any more: the check passes.
    await expect(check('kcl', '0.5')).resolves.toBe(0);
    expect(printed()).toContain('Safe to start the KCL workers');
    expect(printed()).toMatch(/shardId-000000000000: kcl-lambda:\S+ \(Lambda\), checkpoint \d+, leaseCounter \d+ \(not renewed\)/);
    await put(4, 'kcl-era');

    // Step 3: a KCL worker starts. To it a kcl-lambda: owner is a lease nobody renews:
    // noted on the first pass, taken once the failover time has passed.
    const worker = new SimulatedKclWorker(harness.admin, tableName, 'kcl-worker-b');
    const started = Date.now();
    expect(await worker.takeExpiredLeases(FAILOVER_MS, started)).toEqual([]);
    expect(await worker.takeExpiredLeases(FAILOVER_MS, started + FAILOVER_MS)).toEqual(stream.shardIds);
    for (const shardId of stream.shardIds) await worker.processShard(harness.kinesis, stream.streamName, shardId, shardId, log);

    await expectExactlyOnce(log);
    for (const shardId of stream.shardIds) {
      const own = log.filter((record) => record.shardId === shardId);
      expect(own.map((record) => record.by)).toEqual([...Array(8).fill('lambda'), ...Array(6).fill('kcl-worker-b')]);
      const row = await getRow(harness.admin, tableName, shardId);
      expect(row).toMatchObject({ leaseOwner: { S: 'kcl-worker-b' }, checkpoint: { S: own[own.length - 1].sequenceNumber }, ownerSwitchesSinceCheckpoint: { N: '0' } });
    }
    // KCL's own rows came through both cut-overs untouched.
    for (const row of kcl35NonLeaseRows()) expect(await getRow(harness.admin, tableName, row.leaseKey.S!)).toEqual(row);
  });
});
