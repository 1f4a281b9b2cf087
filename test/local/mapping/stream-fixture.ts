import {
  CreateStreamCommand,
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
  type Shard,
} from '@aws-sdk/client-kinesis';

import { mergeAdjacentShards, splitShardInHalf, waitUntilActive } from '../../../local/mapping/resharding';

let streamCounter = 0;

/** A fresh stream name per test, so tests sharing one kinesalite do not see each other. */
export function uniqueStreamName(prefix = 'esm'): string {
  streamCounter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${streamCounter}`;
}

export async function createStream(kinesis: KinesisClient, shardCount = 1, prefix?: string): Promise<string> {
  const streamName = uniqueStreamName(prefix);
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  // kinesalite turns a stream ACTIVE on a timer; under load a put can arrive first and be refused.
  await waitUntilActive(kinesis, streamName);
  return streamName;
}

/** Splits a shard at the middle of its hash range; returns the two children. */
export const splitShard = splitShardInHalf;

/** Merges two adjacent shards; returns the merged child. */
export const mergeShards = mergeAdjacentShards;

export async function listShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  return (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
}

export interface PutResult {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly data: string;
}

/** Puts UTF-8 records in order, one PutRecords call per 500; optionally pinned to a hash key. */
export async function putRecords(
  kinesis: KinesisClient,
  streamName: string,
  payloads: readonly string[],
  explicitHashKey?: string,
): Promise<PutResult[]> {
  const results: PutResult[] = [];
  for (let offset = 0; offset < payloads.length; offset += 500) {
    const chunk = payloads.slice(offset, offset + 500);
    const output = await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: chunk.map((data) => ({
          Data: Buffer.from(data),
          PartitionKey: data,
          ExplicitHashKey: explicitHashKey,
        })),
      }),
    );
    output.Records!.forEach((record, index) => {
      if (record.ErrorCode) throw new Error(`PutRecords failed: ${record.ErrorCode} ${record.ErrorMessage}`);
      results.push({ shardId: record.ShardId!, sequenceNumber: record.SequenceNumber!, data: chunk[index] });
    });
  }
  return results;
}

export function payloads(count: number, prefix = 'r'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
