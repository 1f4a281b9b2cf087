/**
 * The runtime on a table KCL 3.5 left behind: rows seeded with KCL 3.5's exact
 * attribute names and types, the rows KCL keeps there that are not leases, KCL 3's
 * LeaseOwnerToLeaseKeyIndex, and graceful handoffs (checkpointOwner).
 */
import { type AttributeValue, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { NonLeaseRowError, withKclProcessor } from '../../../lambda';
import { createKclHandler } from '../../../lambda/lifecycle/kcl-engine';
import { type LoggedRecord, createKcl3Table, getRow, kcl35Lease, kcl35NonLeaseRows, scanTable } from '../../support/kcl-lease-table';
import { recordLogProcessors } from '../../support/record-log-processor';
import { type RuntimeHarness, kinesisEvent, memoryLogger, sequenceNumbers, startRuntimeHarness } from '../../support/runtime-harness';

const SHARD = 'shardId-000000000000';
const OWNED = ['checkpoint', 'checkpointSubSequenceNumber', 'leaseCounter', 'leaseOwner', 'ownerSwitchesSinceCheckpoint'];

function without(item: Record<string, AttributeValue> | undefined, names: readonly string[]): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(item ?? {}).filter(([name]) => !names.includes(name)));
}


describe('the runtime on a KCL 3.5 lease table', () => {
  let harness: RuntimeHarness;
  let tableName: string;
  let logger: ReturnType<typeof memoryLogger>;
  let streamArn: string;
  const seqs = sequenceNumbers(6);
  // A real (kinesalite) stream: a shard without a row has its parents looked up first.
  const event = (seqs: readonly string[], shardId = SHARD) => kinesisEvent(streamArn, shardId, seqs.map((sequenceNumber) => ({ sequenceNumber })));

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    const stream = await harness.newStream(2);
    streamArn = stream.streamArn;
    expect(stream.shardIds).toEqual([SHARD, 'shardId-000000000001']);
  });
  afterAll(async () => harness.close());
  beforeEach(async () => {
    tableName = await createKcl3Table(harness.admin);
    logger = memoryLogger();
    harness.fault = undefined;
  });

  const options = () => harness.options(tableName, { logger });

  test('resumes after the KCL checkpoint; every attribute the runtime does not own survives its write unchanged', async () => {
    const seeded = kcl35Lease(SHARD, { checkpoint: seqs[1], parentShardIds: ['shardId-000000000099'] });
    await harness.putRow(tableName, seeded);
    const log: LoggedRecord[] = [];
    const handler = withKclProcessor(recordLogProcessors(log).factory, options());

    await expect(handler(event(seqs))).resolves.toEqual({ batchItemFailures: [] });

    expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(2));
    const row = await getRow(harness.admin, tableName, SHARD);
    expect(without(row, OWNED)).toEqual(without(seeded, OWNED));
    expect(row?.pendingCheckpointState).toEqual({ B: Uint8Array.from([0x01, 0x02, 0xff]) });
    expect(row).toMatchObject({
      checkpoint: { S: seqs[5] },
      checkpointSubSequenceNumber: { N: '0' },
      leaseCounter: { N: '18' },
      leaseOwner: { S: expect.stringMatching(/^kcl-lambda:/) },
      ownerSwitchesSinceCheckpoint: { N: '0' },
    });
  });

  test('rows that are not leases are never read as leases nor written, and a shard key held by one is refused with a clear error', async () => {
    // KCL lets a worker id be any string: here it collides with the shard's lease key.
    const others = kcl35NonLeaseRows(SHARD);
    for (const row of others) await harness.putRow(tableName, row);
    const before = await scanTable(harness.admin, tableName);
    const log: LoggedRecord[] = [];
    const processors = recordLogProcessors(log);
    const handler = withKclProcessor(processors.factory, options());

    const failure = handler(event(seqs));
    await expect(failure).rejects.toThrow(NonLeaseRowError);
    await expect(failure).rejects.toThrow(
      `Row "${SHARD}" in checkpoint table "${tableName}" is a KCL WORKER_METRIC_STATS row, not a lease`,
    );
    expect(processors.calls).toEqual([]);

    // Another shard of the same table goes on as usual beside them.
    const other = 'shardId-000000000001';
    await expect(handler(event(seqs, other))).resolves.toEqual({ batchItemFailures: [] });
    expect(log).toHaveLength(seqs.length);
    const after = await scanTable(harness.admin, tableName);
    const byKey = (items: Record<string, AttributeValue>[]) =>
      Object.fromEntries(items.filter((item) => item.leaseKey?.S !== other).map((item) => [item.leaseKey?.S, item]));
    expect(byKey(after)).toEqual(byKey(before));
    expect(after.find((item) => item.leaseKey?.S === other)?.entityType).toEqual({ S: 'LEASE' });
  });

  test('a non-lease row that takes the key between the read and the write: the write is refused (no lease written), with the same clear error', async () => {
    await harness.putRow(tableName, kcl35Lease(SHARD, { checkpoint: seqs[1] }));
    const [metrics] = kcl35NonLeaseRows(SHARD);
    harness.fault = (command) =>
      command === 'UpdateItemCommand'
        ? async () => {
            harness.fault = undefined;
            await harness.putRow(tableName, metrics);
          }
        : undefined;
    const handler = withKclProcessor(recordLogProcessors([]).factory, options());
    await expect(handler(event(seqs))).rejects.toThrow(`Row "${SHARD}" in checkpoint table "${tableName}" is a KCL WORKER_METRIC_STATS row, not a lease`);
    expect(await getRow(harness.admin, tableName, SHARD)).toEqual(metrics);
  });

  test('the coordinator keys count as non-lease rows even without entityType (older KCL rows)', async () => {
    await harness.putRow(tableName, { leaseKey: { S: 'Migration3.0' }, cv: { S: 'CLIENT_VERSION_3X' } });
    const { factory } = recordLogProcessors([]);
    const handler = withKclProcessor(factory, options());
    const migrationEvent = kinesisEvent(streamArn, 'Migration3.0', [{ sequenceNumber: seqs[0] }]);
    await expect(handler(migrationEvent)).rejects.toThrow('is a KCL CLIENT_VERSION_MIGRATION row, not a lease');
    expect(await getRow(harness.admin, tableName, 'Migration3.0')).toEqual({ leaseKey: { S: 'Migration3.0' }, cv: { S: 'CLIENT_VERSION_3X' } });
  });

  test("the runtime's writes keep LeaseOwnerToLeaseKeyIndex valid: every row it writes is found there under its owner", async () => {
    // KCL creates a child's lease without an owner; the runtime's first write gives it one.
    const { leaseOwner: _unowned, ...ownerless } = kcl35Lease(SHARD, { checkpoint: seqs[0] });
    await harness.putRow(tableName, ownerless);
    const handler = withKclProcessor(recordLogProcessors([]).factory, options());
    await handler(event(seqs));
    await handler(event(seqs, 'shardId-000000000001'));

    const rows = await scanTable(harness.admin, tableName);
    const owners = new Set(rows.map((row) => row.leaseOwner?.S));
    expect(owners.size).toBe(1);
    const [owner] = [...owners];
    expect(owner).toMatch(/^kcl-lambda:.+/);
    const { Items } = await harness.admin.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'LeaseOwnerToLeaseKeyIndex',
        KeyConditionExpression: 'leaseOwner = :owner',
        ExpressionAttributeValues: { ':owner': { S: owner! } },
      }),
    );
    expect(Items?.map((item) => item.leaseKey?.S).sort()).toEqual([SHARD, 'shardId-000000000001']);
  });

  describe('graceful handoff (checkpointOwner set, leaseOwner the new owner, leaseCounter unchanged)', () => {
    const handoff = () => kcl35Lease(SHARD, { checkpoint: seqs[1], leaseOwner: 'kcl-worker-b', checkpointOwner: 'kcl-worker-a' });

    /** An invocation with `millis` left: its timeout guard bounds the wait for a handoff. */
    const lambdaContext = (millis: number) => ({ getRemainingTimeInMillis: () => millis });
    const gets = () => {
      const seen: string[] = [];
      harness.fault = (command) => void seen.push(command);
      return () => seen.filter((command) => command === 'GetItemCommand').length;
    };

    test('in progress: the runtime waits like the new owner, reading the lease again until its timeout guard, then fails the batch; only its note is written', async () => {
      await harness.putRow(tableName, handoff());
      const log: LoggedRecord[] = [];
      const processors = recordLogProcessors(log);
      const handler = createKclHandler(processors.factory, options(), { handoffPollMs: 50 });
      const reads = gets();

      // 1.5 s left: the guard fires 0.75 s in, well before the 10 s the wait may take at most.
      await expect(handler(event(seqs), lambdaContext(1_500))).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: seqs[2] }] });
      expect(reads()).toBeGreaterThan(2);
      await expect(handler(event(seqs), lambdaContext(1_500))).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: seqs[2] }] });

      expect(log).toEqual([]);
      const row = await getRow(harness.admin, tableName, SHARD);
      // Nothing KCL reads changed; the runtime noted when it first saw this state.
      expect(without(row, ['kclLambdaHandoffSeen'])).toEqual(handoff());
      expect(row?.kclLambdaHandoffSeen?.S).toMatch(/^\d+ \[17,"kcl-worker-b","kcl-worker-a",/);
      expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('from kcl-worker-a to kcl-worker-b'))).toBe(true);

      // The old owner checkpoints and clears checkpointOwner (KCL's handoff completes): the lease is an ordinary one again.
      await harness.admin.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { leaseKey: { S: SHARD } },
          UpdateExpression: 'SET #checkpoint = :seq, leaseCounter = leaseCounter + :one REMOVE checkpointOwner',
          ExpressionAttributeNames: { '#checkpoint': 'checkpoint' },
          ExpressionAttributeValues: { ':seq': { S: seqs[3] }, ':one': { N: '1' } },
        }),
      );
      await expect(handler(event(seqs))).resolves.toEqual({ batchItemFailures: [] });
      expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(4));
      // The runtime's checkpoint takes its note away with it.
      expect((await getRow(harness.admin, tableName, SHARD))?.kclLambdaHandoffSeen).toBeUndefined();
    });

    test('a handoff that completes while the invocation waits: the batch goes on in that invocation (no retry spent)', async () => {
      await harness.putRow(tableName, handoff());
      const log: LoggedRecord[] = [];
      const handler = createKclHandler(recordLogProcessors(log).factory, options(), { handoffPollMs: 20, handoffWaitMs: 120_000 });
      const invocation = handler(event(seqs));
      // Once the runtime has seen the handoff (its note is on the row), the old owner finishes it.
      for (let waited = 0; (await getRow(harness.admin, tableName, SHARD))?.kclLambdaHandoffSeen === undefined; waited += 10) {
        if (waited > 60_000) throw new Error('the runtime never noted the handoff');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await harness.admin.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { leaseKey: { S: SHARD } },
          UpdateExpression: 'SET #checkpoint = :seq, leaseCounter = leaseCounter + :one REMOVE checkpointOwner',
          ExpressionAttributeNames: { '#checkpoint': 'checkpoint' },
          ExpressionAttributeValues: { ':seq': { S: seqs[2] }, ':one': { N: '1' } },
        }),
      );

      await expect(invocation).resolves.toEqual({ batchItemFailures: [] });
      expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(3));
    });

    test('staleness outlives the container: a fresh container judges the handoff from the note another one wrote', async () => {
      await harness.putRow(tableName, handoff());
      const log: LoggedRecord[] = [];
      const overrides = { handoffTimeoutMs: 200, handoffWaitMs: 0 };
      const first = createKclHandler(recordLogProcessors(log).factory, options(), overrides);
      await expect(first(event(seqs))).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: seqs[2] }] });
      expect((await getRow(harness.admin, tableName, SHARD))?.kclLambdaHandoffSeen).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Lambda sends the retry to another container: it has never seen the row, yet the handoff is stale.
      const second = createKclHandler(recordLogProcessors(log).factory, options(), overrides);
      await expect(second(event(seqs))).resolves.toEqual({ batchItemFailures: [] });
      expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(2));
      const row = await getRow(harness.admin, tableName, SHARD);
      expect(row?.checkpointOwner).toBeUndefined();
      expect(row?.kclLambdaHandoffSeen).toBeUndefined();
    });

    test('a processor this container holds gets leaseLost when a handoff shows up', async () => {
      await harness.putRow(tableName, kcl35Lease(SHARD, { checkpoint: seqs[0] }));
      const processors = recordLogProcessors([]);
      const handler = withKclProcessor(processors.factory, options());
      await handler(event(seqs.slice(0, 3)));
      const row = await getRow(harness.admin, tableName, SHARD);
      await harness.putRow(tableName, { ...row!, leaseOwner: { S: 'kcl-worker-b' }, checkpointOwner: row!.leaseOwner! });

      await expect(handler(event(seqs.slice(3)), lambdaContext(1_500))).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: seqs[3] }] });
      expect(processors.calls).toEqual([`initialize ${SHARD} ${seqs[0]}`, `processRecords ${SHARD} 2`, `leaseLost ${SHARD}`]);
    });

    test('stale (unchanged past the handoff timeout, its workers gone): the next write completes it and keeps the other attributes', async () => {
      await harness.putRow(tableName, handoff());
      const log: LoggedRecord[] = [];
      const handler = createKclHandler(recordLogProcessors(log).factory, options(), { handoffTimeoutMs: 0, handoffPollMs: 10 });

      // First sighting: in progress, whatever the timeout, and noted; read again within the invocation: stale.
      await expect(handler(event(seqs))).resolves.toEqual({ batchItemFailures: [] });

      expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(2));
      const row = await getRow(harness.admin, tableName, SHARD);
      expect(row?.checkpointOwner).toBeUndefined();
      expect(row?.leaseOwner?.S).toMatch(/^kcl-lambda:/);
      expect(without(row, OWNED)).toEqual(without(handoff(), [...OWNED, 'checkpointOwner']));
      expect(row?.kclLambdaHandoffSeen).toBeUndefined();
    });

    test('a handoff that starts between the read and the write (counter unchanged) makes the write lose: leaseLost, nothing claimed', async () => {
      await harness.putRow(tableName, kcl35Lease(SHARD, { checkpoint: seqs[1] }));
      const processors = recordLogProcessors([]);
      const handler = withKclProcessor(processors.factory, options());
      harness.fault = (command) =>
        command === 'UpdateItemCommand'
          ? async () => {
              harness.fault = undefined;
              await harness.admin.send(
                new UpdateItemCommand({
                  TableName: tableName,
                  Key: { leaseKey: { S: SHARD } },
                  UpdateExpression: 'SET leaseOwner = :b, checkpointOwner = :a',
                  ExpressionAttributeValues: { ':a': { S: 'kcl-worker-a' }, ':b': { S: 'kcl-worker-b' } },
                }),
              );
            }
          : undefined;

      await expect(handler(event(seqs))).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: seqs[2] }] });
      expect(processors.calls).toContain(`leaseLost ${SHARD}`);
      const row = await getRow(harness.admin, tableName, SHARD);
      expect(row).toMatchObject({ checkpoint: { S: seqs[1] }, leaseCounter: { N: '17' }, checkpointOwner: { S: 'kcl-worker-a' } });
    });
  });
});
