/**
 * Test helpers for streams on kinesalite (local/emulators.ts): create a stream, put
 * records (optionally into one chosen shard), split and merge shards and wait until
 * the reshard is visible, read a shard back, and turn what was read into the
 * `KinesisStreamEvent` Lambda would deliver for that shard.
 *
 * kinesalite facts these helpers absorb:
 * - SplitShard / MergeShards answer before the reshard is applied (even with
 *   updateStreamMs 0 it lands on a timer), so the helpers poll until the children
 *   are listed and the stream is ACTIVE again.
 * - Children get the next free ids (`shardId-00000000000N`, split: lower hash half
 *   first); parents stay listed with an `EndingSequenceNumber`.
 * - Records put right after a reshard may carry arrival times up to a second in the
 *   future (kinesalite starts child shards one second ahead); nothing here waits on that.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
  type KinesisClient,
  type ListShardsCommandInput,
  type Shard,
  type _Record,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/** One record to put; `data` strings are UTF-8. Without a partition key a fixed one is used. */
export interface RecordToPut {
  readonly data: string | Uint8Array;
  readonly partitionKey?: string;
  readonly explicitHashKey?: string;
}

/** Where a put record landed. */
export interface PutRecordResult {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** The fields of a Lambda Kinesis record that the stream does not determine. */
export interface LambdaEventContext {
  /** The stream ARN as Lambda reports it (see `streamArn`). */
  readonly eventSourceARN: string;
  /** @default the region in eventSourceARN */
  readonly awsRegion?: string;
  /** @default a placeholder execution role ARN in the ARN's account */
  readonly invokeIdentityArn?: string;
}

const DEFAULT_PARTITION_KEY = 'test-partition';
const PUT_RECORDS_MAX = 500;
const POLL_INTERVAL_MS = 5;
const POLL_TIMEOUT_MS = 5_000;

let streamCounter = 0;

/** A stream name no other test in this process uses. */
export function uniqueStreamName(prefix = 'test-stream'): string {
  streamCounter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${streamCounter}`;
}

/** Creates a stream, waits until it is ACTIVE, and returns its ARN. */
export async function createStream(kinesis: KinesisClient, streamName: string, shardCount = 1): Promise<string> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  await waitUntil(`stream ${streamName} to become ACTIVE`, async () => (await streamStatus(kinesis, streamName)) === 'ACTIVE');
  return streamArn(kinesis, streamName);
}

/** The stream's ARN (kinesalite uses account 000000000000). */
export async function streamArn(kinesis: KinesisClient, streamName: string): Promise<string> {
  const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  const arn = summary.StreamDescriptionSummary?.StreamARN;
  if (arn === undefined) throw new Error(`DescribeStreamSummary returned no ARN for ${streamName}`);
  return arn;
}

/** Every shard of the stream, open and closed, in ListShards order (follows NextToken). */
export async function listShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const input: ListShardsCommandInput = nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken };
    const page = await kinesis.send(new ListShardsCommand(input));
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken ?? undefined;
  } while (nextToken !== undefined);
  return shards;
}

/** One shard by id; throws if the stream does not list it. */
export async function describeShard(kinesis: KinesisClient, streamName: string, shardId: string): Promise<Shard> {
  const shard = (await listShards(kinesis, streamName)).find((candidate) => candidate.ShardId === shardId);
  if (shard === undefined) throw new Error(`Stream ${streamName} has no shard ${shardId}`);
  return shard;
}

/** True when the shard has been closed by a reshard (it has an EndingSequenceNumber). */
export function isClosed(shard: Shard): boolean {
  return shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
}

/**
 * Puts records in order with PutRecords (records for the same shard keep their input
 * order and get increasing sequence numbers). With `shardId`, every record is routed to
 * that open shard through an explicit hash key inside its range.
 */
export async function putRecords(
  kinesis: KinesisClient,
  streamName: string,
  records: readonly RecordToPut[],
  options: { shardId?: string } = {},
): Promise<PutRecordResult[]> {
  const explicitHashKey =
    options.shardId === undefined ? undefined : startingHashKey(await describeShard(kinesis, streamName, options.shardId));
  const results: PutRecordResult[] = [];
  for (let start = 0; start < records.length; start += PUT_RECORDS_MAX) {
    const chunk = records.slice(start, start + PUT_RECORDS_MAX).map((record) => ({
      Data: typeof record.data === 'string' ? Buffer.from(record.data, 'utf8') : record.data,
      PartitionKey: record.partitionKey ?? DEFAULT_PARTITION_KEY,
      ExplicitHashKey: record.explicitHashKey ?? explicitHashKey,
    }));
    const output = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: chunk }));
    (output.Records ?? []).forEach((entry, index) => {
      const sent = chunk[index];
      if (entry.ShardId === undefined || entry.SequenceNumber === undefined || sent === undefined) {
        throw new Error(`PutRecords failed for record ${start + index}: ${entry.ErrorCode ?? 'no result'} ${entry.ErrorMessage ?? ''}`);
      }
      results.push({ shardId: entry.ShardId, sequenceNumber: entry.SequenceNumber, partitionKey: sent.PartitionKey, data: sent.Data });
    });
  }
  if (options.shardId !== undefined) {
    const stray = results.find((result) => result.shardId !== options.shardId);
    if (stray !== undefined) throw new Error(`Record meant for ${options.shardId} landed in ${stray.shardId}; is that shard closed?`);
  }
  return results;
}

/**
 * Splits a shard (by default at the middle of its hash range) and waits until the
 * children are listed. Returns the child ids, lower hash range first.
 */
export async function splitShard(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  newStartingHashKey?: string,
): Promise<[string, string]> {
  const shard = await describeShard(kinesis, streamName, shardId);
  const splitAt = newStartingHashKey ?? middleHashKey(shard);
  await kinesis.send(new SplitShardCommand({ StreamName: streamName, ShardToSplit: shardId, NewStartingHashKey: splitAt }));
  const children = await waitForChildren(kinesis, streamName, shardId, 2);
  const [lower, upper] = children.sort((a, b) => compareHashKeys(startingHashKey(a), startingHashKey(b)));
  return [shardIdOf(lower), shardIdOf(upper)];
}

/**
 * Merges two adjacent open shards (`shardId` must hold the lower hash range) and waits
 * until the child is listed. Returns the child id; its ParentShardId is `shardId` and
 * its AdjacentParentShardId is `adjacentShardId`.
 */
export async function mergeShards(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  adjacentShardId: string,
): Promise<string> {
  await kinesis.send(
    new MergeShardsCommand({ StreamName: streamName, ShardToMerge: shardId, AdjacentShardToMerge: adjacentShardId }),
  );
  const [child] = await waitForChildren(kinesis, streamName, shardId, 1);
  return shardIdOf(child);
}

/**
 * Reads a shard from TRIM_HORIZON (or from just after `afterSequenceNumber`) until it
 * is caught up: the first empty page after which nothing more came, or the end of a
 * closed shard.
 */
export async function readShard(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  options: { afterSequenceNumber?: string } = {},
): Promise<_Record[]> {
  const after = options.afterSequenceNumber;
  const start = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: after === undefined ? 'TRIM_HORIZON' : 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: after,
    }),
  );
  const records: _Record[] = [];
  let iterator = start.ShardIterator;
  while (iterator !== undefined) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
    const found = page.Records ?? [];
    records.push(...found);
    // kinesalite returns everything present in one page, so an empty page means caught up.
    if (found.length === 0) break;
    iterator = page.NextShardIterator ?? undefined;
  }
  return records;
}

/**
 * The event Lambda's Kinesis event source mapping would deliver for these records of
 * one shard, with the fields set as Lambda sets them.
 */
export function toKinesisStreamEvent(
  shardId: string,
  records: readonly _Record[],
  context: LambdaEventContext,
): KinesisStreamEvent {
  const arnParts = context.eventSourceARN.split(':');
  const awsRegion = context.awsRegion ?? arnParts[3] ?? 'us-east-1';
  const invokeIdentityArn = context.invokeIdentityArn ?? `arn:aws:iam::${arnParts[4] ?? '000000000000'}:role/kcl-lambda-test`;
  return {
    Records: records.map(
      (record): KinesisStreamRecord => ({
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${record.SequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn,
        awsRegion,
        eventSourceARN: context.eventSourceARN,
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: record.PartitionKey ?? '',
          sequenceNumber: record.SequenceNumber ?? '',
          data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
          approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
        },
      }),
    ),
  };
}

/** Reads a shard (see `readShard`) and returns what was read as one Lambda event. */
export async function readShardAsEvent(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  options: { afterSequenceNumber?: string; context?: Partial<LambdaEventContext> } = {},
): Promise<KinesisStreamEvent> {
  const records = await readShard(kinesis, streamName, shardId, options);
  const eventSourceARN = options.context?.eventSourceARN ?? (await streamArn(kinesis, streamName));
  return toKinesisStreamEvent(shardId, records, { ...options.context, eventSourceARN });
}

async function streamStatus(kinesis: KinesisClient, streamName: string): Promise<string | undefined> {
  const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  return summary.StreamDescriptionSummary?.StreamStatus;
}

/** Polls until `count` shards name `parentShardId` as a parent and the stream is ACTIVE. */
async function waitForChildren(kinesis: KinesisClient, streamName: string, parentShardId: string, count: number): Promise<Shard[]> {
  let children: Shard[] = [];
  await waitUntil(`${count} child shard(s) of ${parentShardId} in ${streamName}`, async () => {
    children = (await listShards(kinesis, streamName)).filter(
      (shard) => shard.ParentShardId === parentShardId || shard.AdjacentParentShardId === parentShardId,
    );
    return children.length >= count && (await streamStatus(kinesis, streamName)) === 'ACTIVE';
  });
  return children;
}

async function waitUntil(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

function shardIdOf(shard: Shard | undefined): string {
  if (shard?.ShardId === undefined) throw new Error('ListShards returned a shard without an id');
  return shard.ShardId;
}

function startingHashKey(shard: Shard): string {
  const key = shard.HashKeyRange?.StartingHashKey;
  if (key === undefined) throw new Error(`Shard ${shard.ShardId} has no hash key range`);
  return key;
}

function middleHashKey(shard: Shard): string {
  const start = BigInt(startingHashKey(shard));
  const end = BigInt(shard.HashKeyRange?.EndingHashKey ?? start);
  return ((start + end + 1n) / 2n).toString();
}

function compareHashKeys(a: string, b: string): number {
  const difference = BigInt(a) - BigInt(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}
