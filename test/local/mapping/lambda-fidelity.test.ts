/**
 * The emulated event source mapping against what AWS documents or was recorded
 * doing: where the 6 MB limit cuts a batch and closes a batching window, when the
 * window restarts, the on-failure documents (SQS/SNS and S3 forms), and the Lambda
 * behaviours the generated histories need (replays of acknowledged batches, children
 * before their parents finish, records expiring from the stream, timed-out
 * invocations that are not waited for).
 */
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { systemClock, type Clock } from '../../../local/mapping/clock';
import { localKinesisClient, startKinesalite, type RunningEmulator } from '../../../local/emulators/emulators';
import { type EventSourceMappingOptions, type KinesisBatchHandler } from '../../../local/mapping/event-source-mapping';
import { EMPTY_EVENT_BYTES, eventRecordBytes, toKinesisStreamRecord } from '../../../local/mapping/kinesis-event';
import type { EventSourceMappingSettings } from '../../../local/mapping/mapping-settings';
import {
  DirectoryS3OnFailureDestination,
  type KinesisS3OnFailureObject,
  s3OnFailureKey,
} from '../../../local/mapping/on-failure-destination';
import { startMappingRun, type MappingRun } from './mapping-run';
import { createStream, listShards, payloads, putRecords, sleep, splitShard } from './stream-fixture';

const SIX_MB = 6 * 1024 * 1024;

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

const decode = (event: KinesisStreamEvent): string[] =>
  event.Records.map((record) => Buffer.from(record.kinesis.data, 'base64').toString('utf8').split('#')[0]);

function mappingFor(
  streamName: string,
  handler: KinesisBatchHandler,
  settings: Partial<EventSourceMappingSettings> = {},
  options: Partial<EventSourceMappingOptions> = {},
): MappingRun {
  return startMappingRun(kinesis, streamName, handler, decode, settings, options);
}

async function waitFor(done: () => boolean, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > until) throw new Error('waited in vain');
    await sleep(20);
  }
}

/** Puts one record of `bytes` bytes whose data starts with `id#`. */
async function putBig(streamName: string, id: string, bytes: number): Promise<void> {
  const data = Buffer.concat([Buffer.from(`${id}#`), Buffer.alloc(bytes - id.length - 1, 'x')]);
  await kinesis.send(new PutRecordCommand({ StreamName: streamName, Data: data, PartitionKey: id }));
}

describe('the 6 MB invocation limit', () => {
  test('is measured on the real event JSON: about 550–710 bytes of fields per record besides the base64 data', () => {
    const source = {
      streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders-production-stream',
      region: 'eu-west-1',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/orders-consumer-ServiceRole-ABCDEF123456',
    };
    const record = {
      SequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      PartitionKey: 'customer-42',
      Data: Buffer.alloc(300),
      ApproximateArrivalTimestamp: new Date(1_700_000_000_123),
    };
    const bytes = eventRecordBytes('shardId-000000000007', record, source);
    expect(bytes).toBe(Buffer.byteLength(JSON.stringify(toKinesisStreamRecord('shardId-000000000007', record, source))));
    // 300 bytes of data are 400 of base64; the rest is fields.
    expect(bytes - 400).toBeGreaterThanOrEqual(550);
    expect(bytes - 400).toBeLessThanOrEqual(710);
    expect(EMPTY_EVENT_BYTES).toBe('{"Records":[]}'.length);
  });

  test('cuts a batch where its JSON would pass 6 MB, and closes the batching window', async () => {
    const streamName = await createStream(kinesis);
    // Five records whose base64 plus 400 bytes would fit 6 MB, but whose real event does not.
    const bytes = 943_350;
    for (const id of ['b0', 'b1', 'b2', 'b3', 'b4']) await putBig(streamName, id, bytes);
    const run = mappingFor(streamName, () => undefined, { batchSize: 100, maximumBatchingWindowInSeconds: 300 });
    const started = Date.now();
    run.mapping.start();
    await waitFor(() => run.invocations.length > 0);
    await run.mapping.stop();

    const [first] = run.invocations;
    expect(decode(first.event)).toEqual(['b0', 'b1', 'b2', 'b3']);
    const fourBytes = Buffer.byteLength(JSON.stringify(first.event));
    expect(fourBytes).toBeLessThanOrEqual(SIX_MB);
    // A fifth record (one more record's JSON and a comma) would pass the limit...
    expect(fourBytes + Buffer.byteLength(JSON.stringify(first.event.Records[0])) + 1).toBeGreaterThan(SIX_MB);
    // ...which an estimate of base64 plus 400 bytes per record would have missed.
    expect(5 * (Math.ceil(bytes / 3) * 4 + 2 + 400)).toBeLessThanOrEqual(SIX_MB);
    // Invoked without waiting out the 300 s window: reaching 6 MB closes it.
    expect(Date.now() - started).toBeLessThan(120_000);
  });
});

test('the batching window restarts when the previous invocation completes', async () => {
  const streamName = await createStream(kinesis);
  const finishedAt: number[] = [];
  const startedAt: number[] = [];
  const run = mappingFor(
    streamName,
    async (event) => {
      startedAt.push(Date.now());
      // While the first invocation runs, the next record arrives.
      if (decode(event).includes('r-0')) {
        await putRecords(kinesis, streamName, ['r-1']);
        await sleep(300);
      }
      finishedAt.push(Date.now());
    },
    { batchSize: 100, maximumBatchingWindowInSeconds: 1 },
  );
  await run.mapping.initialize();
  await putRecords(kinesis, streamName, ['r-0']);
  run.mapping.start();
  await waitFor(() => run.invocations.length >= 2);
  await run.mapping.stop();

  expect(run.batches()).toEqual([['r-0'], ['r-1']]);
  // r-1 was buffered long before the first invocation ended; its window starts at that end.
  expect(startedAt[1] - finishedAt[0]).toBeGreaterThanOrEqual(950);
});

describe('on-failure documents', () => {
  test('a batch that expired before any invocation: RecordAgeExceeded, approximateInvokeCount 1, no responseContext', async () => {
    const streamName = await createStream(kinesis);
    await putRecords(kinesis, streamName, payloads(3));
    const clock: Clock = { now: () => Date.now() + 120_000, sleep: systemClock.sleep };
    const run = mappingFor(streamName, () => undefined, { maximumRecordAgeInSeconds: 60 }, { clock });
    await run.mapping.runUntilIdle();

    expect(run.invocations).toHaveLength(0);
    expect(run.onFailure.records).toHaveLength(1);
    const [record] = run.onFailure.records;
    expect(record.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 1 });
    expect(record).not.toHaveProperty('responseContext');
    expect(record.KinesisBatchInfo.batchSize).toBe(3);
  });

  test('the S3 form: the same document plus the whole event as payload, at aws/lambda/<mapping>/<shard>/YYYY/MM/DD/…', async () => {
    expect(s3OnFailureKey('esm-1', 'shardId-000000000002', new Date('2026-03-04T05:06:07.890Z'), 'u-1')).toBe(
      'aws/lambda/esm-1/shardId-000000000002/2026/03/04/2026-03-04T05.06.07-u-1',
    );
    const streamName = await createStream(kinesis);
    const put = await putRecords(kinesis, streamName, payloads(2));
    const root = mkdtempSync(join(tmpdir(), 's3-on-failure-'));
    const bucket = new DirectoryS3OnFailureDestination(root, 'mapping-uuid');
    const run = mappingFor(
      streamName,
      () => {
        throw new Error('poison');
      },
      { maximumRetryAttempts: 0 },
      { onFailure: bucket },
    );
    await run.mapping.runUntilIdle();

    expect(bucket.keys).toHaveLength(1);
    expect(bucket.keys[0]).toMatch(
      new RegExp(`^aws/lambda/mapping-uuid/${put[0].shardId}/\\d{4}/\\d\\d/\\d\\d/\\d{4}-\\d\\d-\\d\\dT\\d\\d\\.\\d\\d\\.\\d\\d-[0-9a-f-]{36}$`),
    );
    const files = walk(root);
    expect(files).toEqual([bucket.keys[0]]);
    const object = JSON.parse(readFileSync(join(root, files[0]), 'utf8')) as KinesisS3OnFailureObject;
    expect(object.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1 });
    expect(object.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    expect(object.KinesisBatchInfo).toMatchObject({ startSequenceNumber: put[0].sequenceNumber, endSequenceNumber: put[1].sequenceNumber });
    const payload = JSON.parse(object.payload) as KinesisStreamEvent;
    expect(payload).toEqual(run.invocations[0].event);
  });
});

function walk(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(root, path) : [relative(root, path).split(/[\\/]/).join('/')];
  });
}

test('replay reads a shard again from an acknowledged batch, with new batch boundaries', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(6));
  let replayed = false;
  const run = mappingFor(streamName, () => undefined, { batchSize: 2 }, {
    observer: {},
  });
  const { mapping } = run;
  // After the second batch is acknowledged, the poller loses its position.
  await mapping.pollOnce();
  await mapping.pollOnce();
  const shardId = (await listShards(kinesis, streamName))[0].ShardId!;
  replayed = mapping.replay(shardId, 2);
  await mapping.runUntilIdle();

  expect(replayed).toBe(true);
  expect(run.batches()).toEqual([
    ['r-0', 'r-1'],
    ['r-2', 'r-3'],
    ['r-0', 'r-1'],
    ['r-2', 'r-3'],
    ['r-4', 'r-5'],
  ]);
  expect(mapping.replay('no-such-shard')).toBe(false);
});

test('children may start before their parents finish when they do not wait', async () => {
  const streamName = await createStream(kinesis);
  const [parent] = await listShards(kinesis, streamName);
  await putRecords(kinesis, streamName, payloads(3, 'parent'));
  const children = await splitShard(kinesis, streamName, parent.ShardId!);
  await putRecords(kinesis, streamName, payloads(1, 'child'), children[0].HashKeyRange!.StartingHashKey);
  let parentInFlight = false;
  let childWhileParentInFlight = false;
  const run = mappingFor(
    streamName,
    async (event) => {
      const shardId = event.Records[0].eventID.split(':')[0];
      if (shardId === parent.ShardId) {
        parentInFlight = true;
        await sleep(200);
        parentInFlight = false;
      } else if (parentInFlight) {
        childWhileParentInFlight = true;
      }
    },
    { batchSize: 1 },
    { childrenWaitForParents: false },
  );
  await run.mapping.runUntilIdle();

  expect(childWhileParentInFlight).toBe(true);
  expect(run.batches().flat().sort()).toEqual([...payloads(3, 'parent'), ...payloads(1, 'child')].sort());
});

test('with a stream retention, records that aged out while retried are dropped without an on-failure record', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(2));
  let skewMs = 0;
  const clock: Clock = { now: () => Date.now() + skewMs, sleep: systemClock.sleep };
  const expired: string[][] = [];
  const run = mappingFor(
    streamName,
    () => {
      skewMs += 25 * 3600 * 1000;
      throw new Error('failing for a day');
    },
    { maximumRecordAgeInSeconds: -1 },
    { clock, streamRetentionMs: 24 * 3600 * 1000, observer: { recordsExpired: (_shard, sequenceNumbers) => expired.push([...sequenceNumbers]) } },
  );
  await run.mapping.runUntilIdle();

  expect(run.invocations).toHaveLength(1);
  expect(expired.map((sequenceNumbers) => sequenceNumbers.length)).toEqual([2]);
  expect(run.onFailure.records).toHaveLength(0);
  expect(run.mapping.stats()).toMatchObject({ recordsSucceeded: 0, recordsDiscarded: 0 });
});

test('a timed-out invocation is reported and, when asked, not waited for', async () => {
  const streamName = await createStream(kinesis);
  await putRecords(kinesis, streamName, payloads(1));
  const timedOut: string[] = [];
  let calls = 0;
  const never = new Promise<never>(() => undefined);
  const run = mappingFor(
    streamName,
    async () => {
      calls += 1;
      if (calls === 1) await never;
    },
    { functionTimeoutSeconds: 0.2 },
    { waitForTimedOutHandlers: false, observer: { invocationTimedOut: (invocation) => timedOut.push(invocation.context.awsRequestId) } },
  );
  await run.mapping.runUntilIdle();

  expect(timedOut).toEqual([run.invocations[0].context.awsRequestId]);
  expect(run.invocations.map((invocation) => invocation.verdict.kind)).toEqual(['failed', 'success']);
});
