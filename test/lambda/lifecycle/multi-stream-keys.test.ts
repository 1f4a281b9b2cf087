/**
 * leaseKeys 'multiStream': KCL's multi-stream lease keys
 * (`account:streamName:creationEpoch:shardId`, with `streamName` and `shardId`
 * attributes) against kinesalite and dynalite, the creation epoch read once per
 * container from DescribeStreamSummary, or given as `streamIdentifier`.
 */
import { DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { localKinesisClient } from '../../../local/emulators/emulators';
import { KclConfigurationError, withKclProcessor } from '../../../lambda';
import { isolateEnvironment } from '../../support/environment';
import { type LoggedRecord, createKcl3Table, getRow, kcl35Lease, scanTable } from '../../support/kcl-lease-table';
import { putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import { recordLogProcessors } from '../../support/record-log-processor';
import { type RuntimeHarness, type TestStream, memoryLogger, startRuntimeHarness } from '../../support/runtime-harness';

describe("leaseKeys 'multiStream'", () => {
  let harness: RuntimeHarness;
  let tableName: string;
  const kinesisCalls: string[] = [];
  let runtimeKinesis: KinesisClient;
  isolateEnvironment(['KCL_LEASE_KEYS', 'KCL_STREAM_IDENTIFIER', 'AWS_ENDPOINT_URL_KINESIS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);

  beforeAll(async () => {
    harness = await startRuntimeHarness();
    // The runtime's own client, so that only its calls are counted.
    runtimeKinesis = localKinesisClient(harness.kinesisEndpoint);
    runtimeKinesis.middlewareStack.add(
      (next, context) => async (args) => {
        kinesisCalls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countKinesisCalls' },
    );
  });
  afterAll(async () => {
    runtimeKinesis.destroy();
    await harness.close();
  });
  beforeEach(async () => {
    tableName = await createKcl3Table(harness.admin);
    kinesisCalls.length = 0;
  });

  /** KCL's serialized stream identifier for a kinesalite stream: account 000000000000, creation time in epoch milliseconds. */
  const identifierOf = async (stream: TestStream) => {
    const summary = await harness.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream.streamName }));
    return `000000000000:${stream.streamName}:${summary.StreamDescriptionSummary!.StreamCreationTimestamp!.getTime()}`;
  };
  const put = async (stream: TestStream, shardId: string, count: number) =>
    (await putRecords(harness.kinesis, stream.streamName, Array.from({ length: count }, (_, index) => ({ data: `r-${index}` })), { shardId })).map(
      (result) => result.sequenceNumber,
    );
  const options = (extra = {}) => harness.options(tableName, { logger: memoryLogger(), leaseKeys: 'multiStream', kinesis: runtimeKinesis, ...extra });

  test("resumes after a multi-stream KCL application's checkpoint and writes that row, not a shard-id row", async () => {
    const stream = await harness.newStream(1);
    const shardId = stream.shardIds[0];
    const seqs = await put(stream, shardId, 5);
    const identifier = await identifierOf(stream);
    const leaseKey = `${identifier}:${shardId}`;
    const seeded = kcl35Lease(leaseKey, { checkpoint: seqs[1], streamName: identifier, shardId });
    await harness.putRow(tableName, seeded);
    const log: LoggedRecord[] = [];

    const handler = withKclProcessor(recordLogProcessors(log).factory, options());
    await expect(handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId))).resolves.toEqual({ batchItemFailures: [] });

    expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(2));
    const row = await getRow(harness.admin, tableName, leaseKey);
    expect(row).toMatchObject({ checkpoint: { S: seqs[4] }, leaseCounter: { N: '18' }, streamName: { S: identifier }, shardId: { S: shardId } });
    expect(row?.childShardIds).toEqual(seeded.childShardIds);
    expect((await scanTable(harness.admin, tableName)).map((item) => item.leaseKey?.S)).toEqual([leaseKey]);
  });

  test('a shard without a row gets a multi-stream row with streamName and shardId; the epoch is asked once per container', async () => {
    const stream = await harness.newStream(2);
    const identifier = await identifierOf(stream);
    const handler = withKclProcessor(recordLogProcessors([]).factory, options());
    for (const shardId of stream.shardIds) {
      await put(stream, shardId, 2);
      await handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId));
      await handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId));
    }

    for (const shardId of stream.shardIds) {
      const row = await getRow(harness.admin, tableName, `${identifier}:${shardId}`);
      expect(row).toMatchObject({ streamName: { S: identifier }, shardId: { S: shardId }, entityType: { S: 'LEASE' } });
      expect(row?.leaseOwner?.S).toMatch(/^kcl-lambda:/);
    }
    expect(kinesisCalls.filter((name) => name === 'DescribeStreamSummaryCommand')).toEqual(['DescribeStreamSummaryCommand']);
  });

  test('after a split the parent is found by its multi-stream key and the children record bare parent shard ids (as KCL does)', async () => {
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    const parentSeqs = await put(stream, parent, 3);
    const [lower] = await splitShard(harness.kinesis, stream.streamName, parent);
    const lowerSeqs = await put(stream, lower, 2);
    const identifier = await identifierOf(stream);
    const log: LoggedRecord[] = [];
    const handler = withKclProcessor(recordLogProcessors(log).factory, options());

    await handler(await readShardAsEvent(harness.kinesis, stream.streamName, parent));
    await expect(handler(await readShardAsEvent(harness.kinesis, stream.streamName, lower))).resolves.toEqual({ batchItemFailures: [] });

    expect(log.map((record) => record.sequenceNumber)).toEqual([...parentSeqs, ...lowerSeqs]);
    expect((await getRow(harness.admin, tableName, `${identifier}:${parent}`))?.checkpoint).toEqual({ S: 'SHARD_END' });
    const child = await getRow(harness.admin, tableName, `${identifier}:${lower}`);
    expect(child?.parentShardId).toEqual({ SS: [parent] });
    expect((await scanTable(harness.admin, tableName)).every((item) => item.leaseKey?.S?.startsWith(`${identifier}:`))).toBe(true);
  });

  test('KCL_LEASE_KEYS (set by the construct) selects the format, with the Kinesis client the runtime builds itself; anything else is refused', async () => {
    const stream = await harness.newStream(1);
    const shardId = stream.shardIds[0];
    await put(stream, shardId, 1);
    process.env.KCL_LEASE_KEYS = 'multiStream';
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_KINESIS: harness.kinesisEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const handler = withKclProcessor(recordLogProcessors([]).factory, harness.options(tableName, { logger: memoryLogger(), kinesis: undefined }));
    await handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId));
    expect(await getRow(harness.admin, tableName, `${await identifierOf(stream)}:${shardId}`)).toBeDefined();
    expect(await getRow(harness.admin, tableName, shardId)).toBeUndefined();

    process.env.KCL_LEASE_KEYS = 'byStream';
    expect(() => withKclProcessor(recordLogProcessors([]).factory, harness.options(tableName))).toThrow(KclConfigurationError);
    expect(() => withKclProcessor(recordLogProcessors([]).factory, harness.options(tableName))).toThrow(
      `leaseKeys must be 'shardId' or 'multiStream', got "byStream"`,
    );
  });

  test('the derived creation epoch is the creation time in milliseconds (judged by the clock around CreateStream, not by DescribeStreamSummary)', async () => {
    const before = Date.now();
    const stream = await harness.newStream(1);
    const after = Date.now();
    const shardId = stream.shardIds[0];
    await put(stream, shardId, 1);
    const handler = withKclProcessor(recordLogProcessors([]).factory, options());
    await handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId));

    const [key] = (await scanTable(harness.admin, tableName)).map((item) => item.leaseKey?.S ?? '');
    const match = new RegExp(`^000000000000:${stream.streamName}:(\\d+):${shardId}$`).exec(key);
    expect(match).not.toBeNull();
    // Seconds would be a thousand times smaller; slack either side for the emulator's rounding to whole seconds.
    expect(Number(match![1])).toBeGreaterThanOrEqual(before - 10_000);
    expect(Number(match![1])).toBeLessThanOrEqual(after + 10_000);
  });

  test('streamIdentifier: the given identifier keys the rows (an epoch in seconds, as a KCL application may have used), with no DescribeStreamSummary call', async () => {
    const stream = await harness.newStream(1);
    const shardId = stream.shardIds[0];
    const seqs = await put(stream, shardId, 4);
    // Built by hand, not from the stream: the epoch a KCL application chose (seconds).
    const identifier = `000000000000:${stream.streamName}:1764600000`;
    await harness.putRow(tableName, kcl35Lease(`${identifier}:${shardId}`, { checkpoint: seqs[1], streamName: identifier, shardId }));
    const log: LoggedRecord[] = [];

    const handler = withKclProcessor(recordLogProcessors(log).factory, options({ streamIdentifier: identifier }));
    await expect(handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId))).resolves.toEqual({ batchItemFailures: [] });

    expect(log.map((record) => record.sequenceNumber)).toEqual(seqs.slice(2));
    expect((await getRow(harness.admin, tableName, `${identifier}:${shardId}`))?.checkpoint).toEqual({ S: seqs[3] });
    expect((await scanTable(harness.admin, tableName)).map((item) => item.leaseKey?.S)).toEqual([`${identifier}:${shardId}`]);
    expect(kinesisCalls).not.toContain('DescribeStreamSummaryCommand');
  });

  test('KCL_STREAM_IDENTIFIER (set by the construct) gives the identifier; a batch of another stream and bad values are refused', async () => {
    const stream = await harness.newStream(1);
    const shardId = stream.shardIds[0];
    await put(stream, shardId, 1);
    const identifier = `000000000000:${stream.streamName}:42`;
    process.env.KCL_STREAM_IDENTIFIER = identifier;
    const handler = withKclProcessor(recordLogProcessors([]).factory, options());
    await handler(await readShardAsEvent(harness.kinesis, stream.streamName, shardId));
    expect(await getRow(harness.admin, tableName, `${identifier}:${shardId}`)).toMatchObject({ streamName: { S: identifier }, shardId: { S: shardId } });

    const other = await harness.newStream(1);
    await put(other, other.shardIds[0], 1);
    await expect(handler(await readShardAsEvent(harness.kinesis, other.streamName, other.shardIds[0]))).rejects.toThrow(
      `streamIdentifier ${identifier} names stream 000000000000:${stream.streamName}, but the batch comes from 000000000000:${other.streamName}`,
    );

    process.env.KCL_STREAM_IDENTIFIER = `${stream.streamName}:42`;
    expect(() => withKclProcessor(recordLogProcessors([]).factory, options())).toThrow(
      `streamIdentifier must be KCL's account:streamName:creationEpoch (12-digit account, epoch digits), got "${stream.streamName}:42"`,
    );
    process.env.KCL_STREAM_IDENTIFIER = identifier;
    expect(() => withKclProcessor(recordLogProcessors([]).factory, options({ leaseKeys: 'shardId' }))).toThrow(
      `streamIdentifier "${identifier}" applies only with leaseKeys 'multiStream'`,
    );
  });

  test('a stream DescribeStreamSummary cannot find fails the batch with a clear error and writes nothing', async () => {
    const stream = await harness.newStream(1);
    const shardId = stream.shardIds[0];
    await put(stream, shardId, 1);
    const event = await readShardAsEvent(harness.kinesis, stream.streamName, shardId);
    const gone = JSON.parse(JSON.stringify(event).split(stream.streamName).join('no-such-stream'));
    const handler = withKclProcessor(recordLogProcessors([]).factory, options());
    await expect(handler(gone)).rejects.toThrow(
      "leaseKeys 'multiStream' needs the creation time of stream no-such-stream, and DescribeStreamSummary failed (ResourceNotFoundException)",
    );
    expect(await scanTable(harness.admin, tableName)).toEqual([]);
  });
});
