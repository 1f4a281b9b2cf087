import type { KinesisClient, ListShardsCommandOutput, Shard } from '@aws-sdk/client-kinesis';
import { ShardLineage, streamNameFromArn, type ParentRead } from '../../../lambda/lifecycle/shard-lineage';
import { compareSequenceNumbers } from '../../../lambda/records/sequence-number';
import { localKinesisClient, startKinesalite, type RunningEmulator } from '../../../local/emulators/emulators';
import {
  createStream,
  describeShard,
  isClosed,
  listShards,
  mergeShards,
  putRecords,
  readShard,
  readShardAsEvent,
  splitShard,
  uniqueStreamName,
} from '../../support/kinesis-stream';

let kinesalite: RunningEmulator;
let kinesis: KinesisClient;
const extraClients: KinesisClient[] = [];

beforeAll(async () => {
  kinesalite = await startKinesalite();
  kinesis = localKinesisClient(kinesalite.endpoint);
});

afterAll(async () => {
  kinesis.destroy();
  for (const client of extraClients) client.destroy();
  await kinesalite.close();
});

/** A real client to kinesalite that records the name of every command it sends. */
function countingClient(): { client: KinesisClient; commands: string[] } {
  const client = localKinesisClient(kinesalite.endpoint);
  extraClients.push(client);
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return { client, commands };
}

const count = (commands: readonly string[], name: string): number => commands.filter((command) => command === name).length;
const text = (read: ParentRead): string[] => read.records.map((record) => Buffer.from(record.data).toString('utf8'));

describe('streamNameFromArn', () => {
  it.each([
    ['arn:aws:kinesis:us-east-1:123456789012:stream/orders', 'orders'],
    ['arn:aws:kinesis:us-east-1:000000000000:stream/kinesalite-stream_1.a', 'kinesalite-stream_1.a'],
    ['arn:aws-cn:kinesis:cn-north-1:123456789012:stream/orders', 'orders'],
    ['arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/orders', 'orders'],
    ['arn:aws:kinesis:eu-west-1:123456789012:stream/orders/consumer/fan-out:1700000000', 'orders'],
  ])('reads the stream name from %s', (arn, name) => {
    expect(streamNameFromArn(arn)).toBe(name);
  });

  it.each([
    '',
    'orders',
    'arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000',
    'arn:aws:kinesis:us-east-1:123456789012:stream/',
    'arn:aws:kinesis:us-east-1:12345:stream/orders',
    'arn:aws:kinesis:us-east-1:123456789012:stream/has space',
    'arn:aws:sqs:us-east-1:123456789012:orders',
  ])('rejects %j with an error naming the value', (arn) => {
    expect(() => streamNameFromArn(arn)).toThrow(new TypeError(`Not a Kinesis stream ARN (expected arn:aws:kinesis:<region>:<account>:stream/<name>): ${JSON.stringify(arn)}`));
  });

  it('round-trips the ARN kinesalite reports for a stream', async () => {
    const name = uniqueStreamName('arn');
    const arn = await createStream(kinesis, name);
    expect(streamNameFromArn(arn)).toBe(name);
  });
});

describe('ShardLineage.parentsOf', () => {
  it('gives a shard the stream was created with no parents', async () => {
    const name = uniqueStreamName('root');
    await createStream(kinesis, name, 2);
    const lineage = new ShardLineage(kinesis);
    for (const shard of await listShards(kinesis, name)) {
      expect(await lineage.parentsOf(name, shard.ShardId ?? '')).toEqual([]);
    }
  });

  it('gives both children of a split the one parent', async () => {
    const name = uniqueStreamName('split');
    await createStream(kinesis, name);
    const [lower, upper] = await splitShard(kinesis, name, 'shardId-000000000000');
    expect([lower, upper]).toEqual(['shardId-000000000001', 'shardId-000000000002']);
    expect(isClosed(await describeShard(kinesis, name, 'shardId-000000000000'))).toBe(true);

    const lineage = new ShardLineage(kinesis);
    expect(await lineage.parentsOf(name, lower)).toEqual(['shardId-000000000000']);
    expect(await lineage.parentsOf(name, upper)).toEqual(['shardId-000000000000']);
    expect(await lineage.parentsOf(name, 'shardId-000000000000')).toEqual([]);
  });

  it('gives a merged shard both parents, ParentShardId first', async () => {
    const name = uniqueStreamName('merge');
    await createStream(kinesis, name, 2);
    const child = await mergeShards(kinesis, name, 'shardId-000000000000', 'shardId-000000000001');
    const listed = await describeShard(kinesis, name, child);
    expect([listed.ParentShardId, listed.AdjacentParentShardId]).toEqual(['shardId-000000000000', 'shardId-000000000001']);

    expect(await new ShardLineage(kinesis).parentsOf(name, child)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
  });

  it('follows a chain: split then merge of the two children', async () => {
    const name = uniqueStreamName('chain');
    await createStream(kinesis, name);
    const [lower, upper] = await splitShard(kinesis, name, 'shardId-000000000000');
    const merged = await mergeShards(kinesis, name, lower, upper);
    const lineage = new ShardLineage(kinesis);
    expect(await lineage.parentsOf(name, merged)).toEqual([lower, upper]);
    expect(await lineage.parentsOf(name, lower)).toEqual(['shardId-000000000000']);
  });

  it('answers known shards from its cache and lists again only for an unknown shard', async () => {
    const name = uniqueStreamName('cache');
    await createStream(kinesis, name);
    const { client, commands } = countingClient();
    const lineage = new ShardLineage(client);

    expect(await lineage.parentsOf(name, 'shardId-000000000000')).toEqual([]);
    expect(await lineage.parentsOf(name, 'shardId-000000000000')).toEqual([]);
    expect(count(commands, 'ListShardsCommand')).toBe(1);

    // A reshard after the cache was filled: the new children are unknown to it.
    const [lower, upper] = await splitShard(kinesis, name, 'shardId-000000000000');
    expect(await lineage.parentsOf(name, lower)).toEqual(['shardId-000000000000']);
    expect(count(commands, 'ListShardsCommand')).toBe(2);
    expect(await lineage.parentsOf(name, upper)).toEqual(['shardId-000000000000']);
    expect(count(commands, 'ListShardsCommand')).toBe(2);
  });

  it('shares one ListShards among concurrent lookups of the same stream', async () => {
    const name = uniqueStreamName('concurrent');
    await createStream(kinesis, name, 3);
    const { client, commands } = countingClient();
    const lineage = new ShardLineage(client);
    const answers = await Promise.all(
      ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002'].map((id) => lineage.parentsOf(name, id)),
    );
    expect(answers).toEqual([[], [], []]);
    expect(count(commands, 'ListShardsCommand')).toBe(1);
  });

  it('keeps streams apart in its cache', async () => {
    const split = uniqueStreamName('apart-split');
    const plain = uniqueStreamName('apart-plain');
    await createStream(kinesis, split);
    await createStream(kinesis, plain, 3);
    await splitShard(kinesis, split, 'shardId-000000000000');
    const lineage = new ShardLineage(kinesis);
    expect(await lineage.parentsOf(split, 'shardId-000000000001')).toEqual(['shardId-000000000000']);
    expect(await lineage.parentsOf(plain, 'shardId-000000000001')).toEqual([]);
  });

  it('returns no parents for a shard that even a fresh listing lacks, listing again each time', async () => {
    const name = uniqueStreamName('unknown');
    await createStream(kinesis, name);
    const { client, commands } = countingClient();
    const lineage = new ShardLineage(client);
    expect(await lineage.parentsOf(name, 'shardId-000000000042')).toEqual([]);
    expect(await lineage.parentsOf(name, 'shardId-000000000042')).toEqual([]);
    expect(count(commands, 'ListShardsCommand')).toBe(2);
  });

  it('passes on ListShards errors such as a missing stream', async () => {
    const lineage = new ShardLineage(kinesis);
    await expect(lineage.parentsOf(uniqueStreamName('missing'), 'shardId-000000000000')).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('follows ListShards pages, sending NextToken without StreamName', async () => {
    // kinesalite answers in one page; this real client splits its answer into pages of
    // one shard, as Kinesis does with MaxResults, and refuses what Kinesis refuses.
    const name = uniqueStreamName('pages');
    await createStream(kinesis, name);
    const [lower, upper] = await splitShard(kinesis, name, 'shardId-000000000000');
    const merged = await mergeShards(kinesis, name, lower, upper);

    const client = localKinesisClient(kinesalite.endpoint);
    extraClients.push(client);
    const pages = new Map<string, Shard[]>();
    const requests: Record<string, unknown>[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ListShardsCommand') return next(args);
        const input = args.input as { StreamName?: string; NextToken?: string };
        requests.push({ ...input });
        if (input.NextToken !== undefined && input.StreamName !== undefined) {
          throw Object.assign(new Error('NextToken and StreamName cannot be provided together.'), { name: 'InvalidArgumentException' });
        }
        let remaining: Shard[];
        if (input.NextToken === undefined) {
          const result = await next(args);
          remaining = [...((result.output as ListShardsCommandOutput).Shards ?? [])];
        } else {
          remaining = pages.get(input.NextToken) ?? [];
        }
        const [first, ...rest] = remaining;
        const nextToken = rest.length > 0 ? `token-${requests.length}` : undefined;
        if (nextToken !== undefined) pages.set(nextToken, rest);
        const output: ListShardsCommandOutput = { Shards: first ? [first] : [], NextToken: nextToken, $metadata: {} };
        return { output, response: {} } as Awaited<ReturnType<typeof next>>;
      },
      { step: 'initialize', name: 'pageListShards' },
    );

    const lineage = new ShardLineage(client);
    // The merged child is the last shard listed, so it is found only on the last page.
    expect(await lineage.parentsOf(name, merged)).toEqual([lower, upper]);
    expect(requests).toEqual([{ StreamName: name }, { NextToken: 'token-1' }, { NextToken: 'token-2' }, { NextToken: 'token-3' }]);
  });
});

describe('ShardLineage.readFrom', () => {
  /** A one-shard stream with records a, b, c, split afterwards so that shard 0 is a closed parent. */
  async function closedParent(prefix: string) {
    const name = uniqueStreamName(prefix);
    await createStream(kinesis, name);
    const put = await putRecords(kinesis, name, [{ data: 'a' }, { data: 'b' }, { data: 'c' }]);
    const children = await splitShard(kinesis, name, 'shardId-000000000000');
    return { name, sequenceNumbers: put.map((record) => record.sequenceNumber), children };
  }

  it('returns a closed parent\'s records from the checkpointed record on, and that the shard ends after them', async () => {
    const { name, sequenceNumbers } = await closedParent('unread');
    const read = await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000000', sequenceNumbers[1] ?? '');
    expect(text(read)).toEqual(['b', 'c']);
    expect(read.records.map((record) => record.sequenceNumber)).toEqual(sequenceNumbers.slice(1));
    expect(read).toMatchObject({ closed: true, expired: false });
  });

  it('finds a fully read parent closed with only the checkpointed record left', async () => {
    const { name, sequenceNumbers } = await closedParent('drained');
    const last = sequenceNumbers[2] ?? '';
    const read = await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000000', last);
    expect(read.records.map((record) => record.sequenceNumber)).toEqual([last]);
    expect(read).toMatchObject({ closed: true, expired: false });
  });

  it('walks the empty pages between a parent\'s last record and its end', async () => {
    // kinesalite's sequence numbers carry whole seconds. Closed two seconds after its
    // last record, the parent answers the record, then an empty page that still has a
    // next iterator, then the end, as Kinesis may over a quiet stretch.
    const name = uniqueStreamName('gap');
    await createStream(kinesis, name);
    const put = await putRecords(kinesis, name, [{ data: 'only' }]);
    const twoSecondsLater = (Math.floor(Date.now() / 1000) + 2) * 1000;
    await new Promise((resolve) => setTimeout(resolve, twoSecondsLater - Date.now() + 10));
    await splitShard(kinesis, name, 'shardId-000000000000');
    const { client, commands } = countingClient();

    const read = await new ShardLineage(client).readFrom(name, 'shardId-000000000000', put[0]?.sequenceNumber ?? '');
    expect(text(read)).toEqual(['only']);
    expect(read.closed).toBe(true);
    expect(count(commands, 'GetRecordsCommand')).toBe(3);

    const shortBudget = await new ShardLineage(kinesis, { maxGetRecordsCalls: 2 }).readFrom(name, 'shardId-000000000000', put[0]?.sequenceNumber ?? '');
    expect(text(shortBudget)).toEqual(['only']);
    expect(shortBudget.closed).toBe(false);
  });

  it('finds a parent that never had records closed and empty from TRIM_HORIZON', async () => {
    const name = uniqueStreamName('empty-parent');
    await createStream(kinesis, name);
    await splitShard(kinesis, name, 'shardId-000000000000');
    expect(await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000000', 'TRIM_HORIZON')).toEqual({
      closed: true,
      expired: false,
      records: [],
    });
  });

  it('reads both parents of a merge to their ends', async () => {
    const name = uniqueStreamName('merge-read');
    await createStream(kinesis, name, 2);
    const left = await putRecords(kinesis, name, [{ data: 'left-1' }, { data: 'left-2' }], { shardId: 'shardId-000000000000' });
    await putRecords(kinesis, name, [{ data: 'right-1' }], { shardId: 'shardId-000000000001' });
    await mergeShards(kinesis, name, 'shardId-000000000000', 'shardId-000000000001');
    const lineage = new ShardLineage(kinesis);

    const leftRead = await lineage.readFrom(name, 'shardId-000000000000', left[1]?.sequenceNumber ?? '');
    expect(text(leftRead)).toEqual(['left-2']);
    expect(leftRead.closed).toBe(true);
    const rightRead = await lineage.readFrom(name, 'shardId-000000000001', 'TRIM_HORIZON');
    expect(text(rightRead)).toEqual(['right-1']);
    expect(rightRead.closed).toBe(true);
  });

  it('finds an open shard not closed, within its call budget', async () => {
    const name = uniqueStreamName('open');
    await createStream(kinesis, name);
    const put = await putRecords(kinesis, name, [{ data: 'x' }, { data: 'y' }]);
    const { client, commands } = countingClient();
    const read = await new ShardLineage(client, { maxGetRecordsCalls: 4 }).readFrom(name, 'shardId-000000000000', put[1]?.sequenceNumber ?? '');
    expect(text(read)).toEqual(['y']);
    expect(read).toMatchObject({ closed: false, expired: false });
    expect(count(commands, 'GetRecordsCommand')).toBe(4);
    expect(count(commands, 'GetShardIteratorCommand')).toBe(1);
  });

  it('finds an open shard with nothing left not closed and empty', async () => {
    const name = uniqueStreamName('open-empty');
    await createStream(kinesis, name);
    expect(await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000000', 'TRIM_HORIZON')).toEqual({
      closed: false,
      expired: false,
      records: [],
    });
  });

  it('returns only the first page and not closed when more records follow it', async () => {
    const name = uniqueStreamName('pages');
    await createStream(kinesis, name);
    const put = await putRecords(kinesis, name, ['1', '2', '3', '4', '5'].map((data) => ({ data })));
    await splitShard(kinesis, name, 'shardId-000000000000');
    const read = await new ShardLineage(kinesis, { recordsPerCall: 2 }).readFrom(name, 'shardId-000000000000', put[0]?.sequenceNumber ?? '');
    expect(text(read)).toEqual(['1', '2']);
    expect(read.closed).toBe(false);
  });

  it.each(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP'])('reads from the start of the shard for the %s sentinel', async (sentinel) => {
    const { name, sequenceNumbers } = await closedParent(`sentinel-${sentinel.toLowerCase()}`);
    const read = await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000000', sentinel);
    expect(read.records.map((record) => record.sequenceNumber)).toEqual(sequenceNumbers);
    expect(read).toMatchObject({ closed: true, expired: false });
  });

  it('carries each record\'s partition key, bytes and arrival time', async () => {
    const name = uniqueStreamName('fields');
    await createStream(kinesis, name);
    const before = Date.now();
    const bytes = Uint8Array.from([0xf3, 0x89, 0x9a, 0xc2, 0x00, 0xff]);
    await putRecords(kinesis, name, [{ data: bytes, partitionKey: 'customer-7' }]);
    const [record] = (await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000000', 'TRIM_HORIZON')).records;
    expect(record?.partitionKey).toBe('customer-7');
    expect(Buffer.from(record?.data ?? []).equals(Buffer.from(bytes))).toBe(true);
    expect(record?.approximateArrivalTimestamp?.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });

  it('reports a shard the stream does not have as expired', async () => {
    const name = uniqueStreamName('expired');
    await createStream(kinesis, name);
    expect(await new ShardLineage(kinesis).readFrom(name, 'shardId-000000000099', 'TRIM_HORIZON')).toEqual({
      closed: false,
      expired: true,
      records: [],
    });
  });

  it('treats a SHARD_END position as finished without calling Kinesis', async () => {
    const { client, commands } = countingClient();
    expect(await new ShardLineage(client).readFrom('any-stream', 'shardId-000000000000', 'SHARD_END')).toEqual({
      closed: true,
      expired: false,
      records: [],
    });
    expect(commands).toEqual([]);
  });

  it('rejects a position that is neither a sequence number nor a sentinel', async () => {
    await expect(new ShardLineage(kinesis).readFrom('any-stream', 'shardId-000000000000', '12ab')).rejects.toThrow(
      'Not a Kinesis sequence number or KCL sentinel: "12ab"',
    );
  });

  it('passes on errors other than a missing shard', async () => {
    const { name, sequenceNumbers } = await closedParent('foreign');
    // A sequence number of shard 0 used on shard 1: Kinesis and kinesalite refuse it.
    await expect(new ShardLineage(kinesis).readFrom(name, 'shardId-000000000001', sequenceNumbers[0] ?? '')).rejects.toMatchObject({
      name: 'InvalidArgumentException',
    });
  });

  it('refuses a call budget or page size below one', () => {
    expect(() => new ShardLineage(kinesis, { maxGetRecordsCalls: 0 })).toThrow(RangeError);
    expect(() => new ShardLineage(kinesis, { recordsPerCall: 1.5 })).toThrow(RangeError);
  });
});

describe('kinesis-stream test helpers', () => {
  it('puts records into a chosen child shard and reads them back in order', async () => {
    const name = uniqueStreamName('helpers');
    await createStream(kinesis, name);
    const [lower, upper] = await splitShard(kinesis, name, 'shardId-000000000000');
    const put = await putRecords(kinesis, name, [{ data: 'u1' }, { data: 'u2' }, { data: 'u3' }], { shardId: upper });
    expect(put.map((record) => record.shardId)).toEqual([upper, upper, upper]);
    const sorted = [...put].sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
    expect(sorted).toEqual(put);

    const read = await readShard(kinesis, name, upper);
    expect(read.map((record) => Buffer.from(record.Data ?? []).toString())).toEqual(['u1', 'u2', 'u3']);
    expect(await readShard(kinesis, name, lower)).toEqual([]);
    const after = await readShard(kinesis, name, upper, { afterSequenceNumber: put[0]?.sequenceNumber ?? '' });
    expect(after.map((record) => record.SequenceNumber)).toEqual(put.slice(1).map((record) => record.sequenceNumber));
  });

  it('builds the event Lambda would deliver for a shard', async () => {
    const name = uniqueStreamName('event');
    const arn = await createStream(kinesis, name);
    const put = await putRecords(kinesis, name, [{ data: 'hello', partitionKey: 'pk-1' }, { data: Uint8Array.from([0, 255]), partitionKey: 'pk-2' }]);
    const [raw] = await readShard(kinesis, name, 'shardId-000000000000');
    const event = await readShardAsEvent(kinesis, name, 'shardId-000000000000');

    expect(event.Records).toHaveLength(2);
    expect(event.Records[0]).toEqual({
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000000:${put[0]?.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/kcl-lambda-test',
      awsRegion: 'us-east-1',
      eventSourceARN: arn,
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'pk-1',
        sequenceNumber: put[0]?.sequenceNumber,
        data: Buffer.from('hello').toString('base64'),
        approximateArrivalTimestamp: (raw?.ApproximateArrivalTimestamp?.getTime() ?? NaN) / 1000,
      },
    });
    expect(event.Records[1]?.kinesis.data).toBe('AP8=');
    expect(streamNameFromArn(event.Records[1]?.eventSourceARN ?? '')).toBe(name);
  });
});
