import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { Clock } from '../../../local/mapping/clock';
import { systemClock } from '../../../local/mapping/clock';
import { localKinesisClient, startKinesalite, type RunningEmulator } from '../../../local/emulators/emulators';
import {
  StreamNotFoundError,
  type EventSourceMappingOptions,
  type InvocationFinished,
  type KinesisBatchHandler,
} from '../../../local/mapping/event-source-mapping';
import type { EventSourceMappingSettings } from '../../../local/mapping/mapping-settings';
import { JsonLinesOnFailureDestination } from '../../../local/mapping/on-failure-destination';
import { startMappingRun, type MappingRun } from './mapping-run';
import { createStream, listShards, mergeShards, payloads, putRecords, sleep, splitShard } from './stream-fixture';

let kinesalite: RunningEmulator;
let kinesis: KinesisClient;

beforeAll(async () => {
  kinesalite = await startKinesalite();
  kinesis = localKinesisClient(kinesalite.endpoint);
});

afterAll(async () => {
  kinesis.destroy();
  await kinesalite.close();
});

/** Polls until `done()` holds; a generous deadline, for a loaded machine. */
async function waitFor(done: () => boolean, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('waited in vain');
    await sleep(20);
  }
}

const decode = (event: KinesisStreamEvent): string[] =>
  event.Records.map((record) => Buffer.from(record.kinesis.data, 'base64').toString('utf8'));

function mappingFor(
  streamName: string,
  handler: KinesisBatchHandler,
  settings: Partial<EventSourceMappingSettings> = {},
  options: Partial<EventSourceMappingOptions> = {},
): MappingRun {
  return startMappingRun(kinesis, streamName, handler, decode, settings, options);
}

test('events carry every field Lambda sets on a Kinesis record', async () => {
  const streamName = await createStream(kinesis);
  const before = Date.now();
  const [put] = await putRecords(kinesis, streamName, ['hello']);
  const run = mappingFor(streamName, () => undefined);
  await run.mapping.runUntilIdle();

  expect(run.invocations).toHaveLength(1);
  const [record] = run.invocations[0].event.Records;
  expect(record).toEqual({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'hello',
      sequenceNumber: put.sequenceNumber,
      data: Buffer.from('hello').toString('base64'),
      approximateArrivalTimestamp: expect.any(Number),
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${put.shardId}:${put.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\//),
    awsRegion: 'us-east-1',
    eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`,
  });
  // Epoch seconds with a fraction, not milliseconds.
  expect(record.kinesis.approximateArrivalTimestamp).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
  expect(record.kinesis.approximateArrivalTimestamp).toBeLessThanOrEqual(Date.now() / 1000 + 1);
});

test('batchSize bounds each event and batches follow stream order', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(25));
  const run = mappingFor(streamName, () => undefined, { batchSize: 10 });
  await run.mapping.runUntilIdle();

  expect(run.batches().map((batch) => batch.length)).toEqual([10, 10, 5]);
  expect(run.batches().flat()).toEqual(payloads(25));
});

test('one batch in flight per shard, shards in parallel', async () => {
  const streamName = await createStream(kinesis, 2);
  const shards = await listShards(kinesis, streamName);
  for (const shard of shards) {
    await putRecords(kinesis, streamName, payloads(6, shard.ShardId), shard.HashKeyRange!.StartingHashKey);
  }
  const inFlight = new Map<string, number>();
  let maxPerShard = 0;
  let maxOverall = 0;
  const handler: KinesisBatchHandler = async (event) => {
    const shardId = event.Records[0].eventID.split(':')[0];
    inFlight.set(shardId, (inFlight.get(shardId) ?? 0) + 1);
    maxPerShard = Math.max(maxPerShard, inFlight.get(shardId)!);
    maxOverall = Math.max(maxOverall, [...inFlight.values()].reduce((a, b) => a + b, 0));
    await sleep(30);
    inFlight.set(shardId, inFlight.get(shardId)! - 1);
  };
  const run = mappingFor(streamName, handler, { batchSize: 2 });
  await run.mapping.runUntilIdle();

  expect(run.invocations).toHaveLength(6);
  expect(maxPerShard).toBe(1);
  expect(maxOverall).toBe(2);
});

test('maxBatchingWindow gathers records until the window closes', async () => {
  const streamName = await createStream(kinesis);
  const invokedAt: number[] = [];
  const run = mappingFor(
    streamName,
    () => {
      invokedAt.push(Date.now());
    },
    { batchSize: 100, maximumBatchingWindowInSeconds: 1 },
  );
  await run.mapping.initialize();
  run.mapping.start();
  const firstPut = Date.now();
  await putRecords(kinesis, streamName, ['a', 'b']);
  await sleep(150);
  await putRecords(kinesis, streamName, ['c']);
  await waitFor(() => run.invocations.length > 0);
  await run.mapping.stop();

  expect(run.batches()).toEqual([['a', 'b', 'c']]);
  expect(invokedAt[0] - firstPut).toBeGreaterThanOrEqual(900);
});

describe('starting position', () => {
  test('TRIM_HORIZON delivers records put before the mapping started', async () => {
    const streamName = await createStream(kinesis);
    await putRecords(kinesis, streamName, ['old']);
    const run = mappingFor(streamName, () => undefined, { startingPosition: 'TRIM_HORIZON' });
    await run.mapping.initialize();
    await putRecords(kinesis, streamName, ['new']);
    await run.mapping.runUntilIdle();
    expect(run.batches().flat()).toEqual(['old', 'new']);
  });

  test('LATEST delivers only records put after the mapping started', async () => {
    const streamName = await createStream(kinesis);
    await putRecords(kinesis, streamName, ['old']);
    const run = mappingFor(streamName, () => undefined, { startingPosition: 'LATEST' });
    await run.mapping.initialize();
    await putRecords(kinesis, streamName, ['new']);
    await run.mapping.runUntilIdle();
    expect(run.batches().flat()).toEqual(['new']);
  });

  test('AT_TIMESTAMP delivers records that arrived at or after the timestamp', async () => {
    const streamName = await createStream(kinesis);
    await putRecords(kinesis, streamName, ['old']);
    await sleep(1100);
    const timestamp = new Date();
    await putRecords(kinesis, streamName, ['new']);
    const run = mappingFor(streamName, () => undefined, {
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: timestamp,
    });
    await run.mapping.runUntilIdle();
    expect(run.batches().flat()).toEqual(['new']);
  });
});

test('child shards start only after every parent is processed to its end (split, then merge)', async () => {
  const streamName = await createStream(kinesis);
  const [parent] = await listShards(kinesis, streamName);
  await putRecords(kinesis, streamName, payloads(5, 'parent'));
  const children = await splitShard(kinesis, streamName, parent.ShardId!);
  expect(children).toHaveLength(2);
  await putRecords(kinesis, streamName, payloads(3, 'low'), children[0].HashKeyRange!.StartingHashKey);
  await putRecords(kinesis, streamName, payloads(3, 'high'), children[1].HashKeyRange!.StartingHashKey);
  const merged = await mergeShards(kinesis, streamName, children[0].ShardId!, children[1].ShardId!);
  await putRecords(kinesis, streamName, payloads(2, 'merged'));

  // Slow, failing parent batches: children must still wait for the parent's last record.
  const failedOnce = new Set<string>();
  const order: string[] = [];
  const run = mappingFor(
    streamName,
    async (event) => {
      const first = event.Records[0].kinesis.sequenceNumber;
      if (!failedOnce.has(first)) {
        failedOnce.add(first);
        throw new Error('first attempt fails');
      }
      await sleep(10);
    },
    { batchSize: 2 },
    {
      observer: {
        shardStarted: (shardId) => order.push(`start ${shardId}`),
        shardFinished: (shardId) => order.push(`end ${shardId}`),
      },
    },
  );
  await run.mapping.runUntilIdle();

  const succeeded = run.invocations.filter((invocation) => invocation.verdict.kind === 'success');
  const shardOf = (invocation: InvocationFinished) => invocation.shardId;
  const lastParent = succeeded.map(shardOf).lastIndexOf(parent.ShardId!);
  const firstChild = succeeded.findIndex((invocation) => children.some((child) => child.ShardId === invocation.shardId));
  const lastChild = Math.max(...children.map((child) => succeeded.map(shardOf).lastIndexOf(child.ShardId!)));
  const firstMerged = succeeded.map(shardOf).indexOf(merged.ShardId!);
  expect(lastParent).toBeLessThan(firstChild);
  expect(lastChild).toBeLessThan(firstMerged);
  expect(order.indexOf(`end ${parent.ShardId}`)).toBeLessThan(order.indexOf(`start ${children[0].ShardId}`));
  expect(order.indexOf(`end ${children[0].ShardId}`)).toBeLessThan(order.indexOf(`start ${merged.ShardId}`));
  expect(order.indexOf(`end ${children[1].ShardId}`)).toBeLessThan(order.indexOf(`start ${merged.ShardId}`));
  expect(succeeded.flatMap((invocation) => decode(invocation.event)).sort()).toEqual(
    [...payloads(5, 'parent'), ...payloads(3, 'low'), ...payloads(3, 'high'), ...payloads(2, 'merged')].sort(),
  );
  expect(run.mapping.shardStatuses().filter((status) => status.closed).every((status) => status.phase === 'finished')).toBe(true);
});

test('the context counts down from the configured function timeout', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, ['x']);
  const remaining: number[] = [];
  const run = mappingFor(
    streamName,
    async (_event, context) => {
      remaining.push(context.getRemainingTimeInMillis());
      await sleep(200);
      remaining.push(context.getRemainingTimeInMillis());
    },
    { functionTimeoutSeconds: 2, functionName: 'my-consumer' },
  );
  await run.mapping.runUntilIdle();

  const context = run.invocations[0].context;
  expect(context.functionName).toBe('my-consumer');
  expect(context.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:my-consumer');
  expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(remaining[0]).toBeLessThanOrEqual(2000);
  expect(remaining[0]).toBeGreaterThan(1900);
  expect(remaining[0] - remaining[1]).toBeGreaterThanOrEqual(180);
  expect(remaining[0] - remaining[1]).toBeLessThan(600);
});

test('a thrown error retries the whole batch', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(4));
  let calls = 0;
  const run = mappingFor(streamName, () => {
    calls += 1;
    if (calls === 1) throw new Error('boom');
    return { batchItemFailures: [] };
  });
  await run.mapping.runUntilIdle();

  expect(run.batches()).toEqual([payloads(4), payloads(4)]);
  expect(run.invocations[0].verdict).toMatchObject({ kind: 'failed', functionError: 'Unhandled' });
  expect(run.invocations[1].attempt).toBe(2);
  expect(run.mapping.stats()).toMatchObject({ invocations: 2, retries: 1, recordsSucceeded: 4 });
});

test('a timeout retries the whole batch', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(3));
  let calls = 0;
  const run = mappingFor(
    streamName,
    async () => {
      calls += 1;
      if (calls === 1) await sleep(600);
    },
    { functionTimeoutSeconds: 0.2 },
  );
  await run.mapping.runUntilIdle();

  expect(run.batches()).toEqual([payloads(3), payloads(3)]);
  expect(run.invocations[0].outcome).toEqual({ kind: 'timedOut', timeoutMs: 200 });
});

test('batchItemFailures retry from the lowest named sequence number', async () => {
  const streamName = await createStream(kinesis);
  const put = await putRecords(kinesis, streamName, payloads(6));
  let calls = 0;
  const run = mappingFor(streamName, () => {
    calls += 1;
    // Named out of order: Lambda takes the lowest (record 2), not the first listed.
    return calls === 1
      ? { batchItemFailures: [{ itemIdentifier: put[4].sequenceNumber }, { itemIdentifier: put[2].sequenceNumber }] }
      : { batchItemFailures: [] };
  });
  await run.mapping.runUntilIdle();

  expect(run.batches()).toEqual([payloads(6), payloads(6).slice(2)]);
  expect(run.invocations[0].verdict).toMatchObject({ kind: 'partial', retryFromIndex: 2 });
  expect(run.mapping.shardStatuses()[0].checkpoint).toBe(put[5].sequenceNumber);
});

describe('an itemIdentifier Lambda cannot use fails the whole batch', () => {
  test.each([
    ['empty', ''],
    ['null', null],
    ['missing (wrong key name)', undefined],
    ['unknown sequence number', '49590338271490256608559692538361571095921575989136588898'],
  ])('%s', async (_label, itemIdentifier) => {
    const streamName = await createStream(kinesis);
    await putRecords(kinesis, streamName, payloads(3));
    let calls = 0;
    const run = mappingFor(streamName, () => {
      calls += 1;
      if (calls > 1) return undefined;
      return { batchItemFailures: [itemIdentifier === undefined ? { itemId: 'x' } : { itemIdentifier }] };
    });
    await run.mapping.runUntilIdle();

    expect(run.batches()).toEqual([payloads(3), payloads(3)]);
    expect(run.invocations[0].verdict.kind).toBe('failed');
  });
});

describe('responses Lambda counts as success', () => {
  test.each([
    ['undefined', undefined],
    ['null', null],
    ['empty object', {}],
    ['empty list', { batchItemFailures: [] }],
    ['null list', { batchItemFailures: null }],
    ['an empty list as the whole response', []],
  ])('%s', async (_label, response) => {
    const streamName = await createStream(kinesis);
    await putRecords(kinesis, streamName, payloads(3));
    const run = mappingFor(streamName, () => response);
    await run.mapping.runUntilIdle();
    expect(run.batches()).toEqual([payloads(3)]);
  });

  test('without ReportBatchItemFailures a returned failure list is ignored', async () => {
    const streamName = await createStream(kinesis);
    const put = await putRecords(kinesis, streamName, payloads(3));
    const run = mappingFor(streamName, () => ({ batchItemFailures: [{ itemIdentifier: put[0].sequenceNumber }] }), {
      reportBatchItemFailures: false,
    });
    await run.mapping.runUntilIdle();
    expect(run.batches()).toEqual([payloads(3)]);
  });
});

test('retryAttempts bounds retries; the exhausted batch goes to the on-failure file and the shard moves on', async () => {
  const streamName = await createStream(kinesis);
  const put = await putRecords(kinesis, streamName, payloads(4));
  const file = join(mkdtempSync(join(tmpdir(), 'esm-')), 'on-failure.jsonl');
  const destination = new JsonLinesOnFailureDestination(file);
  const run = mappingFor(
    streamName,
    (event) => {
      if (decode(event).includes('r-0')) throw new Error('poison');
    },
    { batchSize: 2, maximumRetryAttempts: 2, functionName: 'consumer' },
    { onFailure: destination },
  );
  await run.mapping.runUntilIdle();

  expect(run.batches()).toEqual([['r-0', 'r-1'], ['r-0', 'r-1'], ['r-0', 'r-1'], ['r-2', 'r-3']]);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  expect(lines).toEqual([
    {
      requestContext: {
        requestId: run.invocations[2].context.awsRequestId,
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:consumer',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      KinesisBatchInfo: {
        shardId: put[0].shardId,
        startSequenceNumber: put[0].sequenceNumber,
        endSequenceNumber: put[1].sequenceNumber,
        approximateArrivalOfFirstRecord: expect.stringMatching(/Z$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
        batchSize: 2,
        streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`,
      },
    },
  ]);
  expect(run.mapping.stats()).toMatchObject({ recordsDiscarded: 2, recordsSucceeded: 2, onFailureRecords: 1 });
});

test('after a partial response moves the checkpoint, the rest gets its own 1 + MaximumRetryAttempts invocations', async () => {
  const streamName = await createStream(kinesis);
  const put = await putRecords(kinesis, streamName, payloads(4));
  const run = mappingFor(streamName, () => ({ batchItemFailures: [{ itemIdentifier: put[2].sequenceNumber }] }), {
    maximumRetryAttempts: 1,
  });
  await run.mapping.runUntilIdle();

  // First call: 0-1 done; 2-3 are a new batch: its first invocation and one retry, as on AWS.
  expect(run.batches()).toEqual([payloads(4), payloads(4).slice(2), payloads(4).slice(2)]);
  expect(run.invocations.map((invocation) => invocation.attempt)).toEqual([1, 1, 2]);
  // In the stats, each delivery of records delivered before is a retry.
  expect(run.mapping.stats()).toMatchObject({ invocations: 3, retries: 2 });
  expect(run.onFailure.records).toHaveLength(1);
  expect(run.onFailure.records[0].KinesisBatchInfo).toMatchObject({
    startSequenceNumber: put[2].sequenceNumber,
    endSequenceNumber: put[3].sequenceNumber,
    batchSize: 2,
  });
  // Counted from the rest's first invocation; the function returned, so functionError is null.
  expect(run.onFailure.records[0].requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
  expect(run.onFailure.records[0].responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST', functionError: null });
});

test('maxRecordAge discards records older than the limit instead of retrying them', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(2));
  let skewMs = 0;
  const clock: Clock = { now: () => Date.now() + skewMs, sleep: systemClock.sleep };
  const run = mappingFor(
    streamName,
    () => {
      // Time passes while the function keeps failing: the records outlive their maximum age.
      skewMs += 61_000;
      throw new Error('still failing');
    },
    { maximumRecordAgeInSeconds: 60 },
    { clock },
  );
  await run.mapping.runUntilIdle();

  expect(run.invocations).toHaveLength(1);
  expect(run.onFailure.records).toHaveLength(1);
  expect(run.onFailure.records[0].requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 1 });
  expect(run.onFailure.records[0].KinesisBatchInfo.batchSize).toBe(2);
  // AWS sends no response context for records that aged out.
  expect(run.onFailure.records[0]).not.toHaveProperty('responseContext');
});

test('bisectBatchOnError halves failing batches down to the bad record, without spending retries', async () => {
  const streamName = await createStream(kinesis);
  const put = await putRecords(kinesis, streamName, payloads(8));
  const run = mappingFor(
    streamName,
    (event) => {
      if (decode(event).includes('r-5')) throw new Error('poison record');
    },
    { batchSize: 8, bisectBatchOnFunctionError: true, maximumRetryAttempts: 0 },
  );
  await run.mapping.runUntilIdle();

  expect(run.batches()).toEqual([
    payloads(8),
    ['r-0', 'r-1', 'r-2', 'r-3'],
    ['r-4', 'r-5', 'r-6', 'r-7'],
    ['r-4', 'r-5'],
    ['r-4'],
    ['r-5'],
    ['r-6', 'r-7'],
  ]);
  expect(run.onFailure.records.map((record) => record.KinesisBatchInfo)).toEqual([
    expect.objectContaining({ startSequenceNumber: put[5].sequenceNumber, endSequenceNumber: put[5].sequenceNumber, batchSize: 1 }),
  ]);
  expect(run.onFailure.records[0].requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 });
  expect(run.mapping.stats()).toMatchObject({ recordsSucceeded: 7, recordsDiscarded: 1, bisections: 3 });
});

test('a stream that does not exist is one clear error', async () => {
  const run = mappingFor('no-such-stream', () => undefined);
  await expect(run.mapping.initialize()).rejects.toThrow(StreamNotFoundError);
  await expect(run.mapping.initialize()).rejects.toThrow('Kinesis stream "no-such-stream" does not exist.');
});
