import {
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  MergeShardsCommand,
  SplitShardCommand,
  type KinesisClient,
  type Shard,
} from '@aws-sdk/client-kinesis';

/** All shards of a stream, open and closed, following NextToken. */
export async function listAllShards(kinesis: KinesisClient, streamName: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const page = await kinesis.send(new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: streamName }));
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return shards;
}

export function isOpen(shard: Shard): boolean {
  return shard.SequenceNumberRange?.EndingSequenceNumber === undefined;
}

/** Reshards answer before they apply (kinesalite too, on a timer): wait until the stream is ACTIVE again. */
export async function waitUntilActive(kinesis: KinesisClient, streamName: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`Stream ${streamName} did not become ACTIVE within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Splits a shard at the middle of its hash key range; returns the two children (lower half first). */
export async function splitShardInHalf(kinesis: KinesisClient, streamName: string, shardId: string): Promise<Shard[]> {
  const shard = (await listAllShards(kinesis, streamName)).find((candidate) => candidate.ShardId === shardId);
  if (!shard) throw new Error(`No shard ${shardId} in stream ${streamName}`);
  const low = BigInt(shard.HashKeyRange!.StartingHashKey!);
  const high = BigInt(shard.HashKeyRange!.EndingHashKey!);
  await kinesis.send(
    new SplitShardCommand({
      StreamName: streamName,
      ShardToSplit: shardId,
      NewStartingHashKey: ((low + high) / BigInt(2) + BigInt(1)).toString(),
    }),
  );
  await waitUntilActive(kinesis, streamName);
  return (await listAllShards(kinesis, streamName))
    .filter((candidate) => candidate.ParentShardId === shardId && !candidate.AdjacentParentShardId)
    .sort((a, b) => (BigInt(a.HashKeyRange!.StartingHashKey!) < BigInt(b.HashKeyRange!.StartingHashKey!) ? -1 : 1));
}

/** Merges two shards with adjacent hash key ranges; returns the merged child. */
export async function mergeAdjacentShards(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  adjacentShardId: string,
): Promise<Shard> {
  await kinesis.send(new MergeShardsCommand({ StreamName: streamName, ShardToMerge: shardId, AdjacentShardToMerge: adjacentShardId }));
  await waitUntilActive(kinesis, streamName);
  const merged = (await listAllShards(kinesis, streamName)).find(
    (candidate) => candidate.ParentShardId === shardId && candidate.AdjacentParentShardId === adjacentShardId,
  );
  if (!merged) throw new Error(`Merging ${shardId} and ${adjacentShardId} produced no child shard`);
  return merged;
}

/**
 * Two open shards whose hash key ranges touch (lower range first), taken from the
 * top of the hash key space so a merge after a split of the lowest shard leaves
 * the split's children alone; undefined if there are none.
 */
export function adjacentOpenShards(shards: readonly Shard[]): [Shard, Shard] | undefined {
  const open = shards
    .filter(isOpen)
    .sort((a, b) => (BigInt(a.HashKeyRange!.StartingHashKey!) < BigInt(b.HashKeyRange!.StartingHashKey!) ? -1 : 1));
  for (let index = open.length - 2; index >= 0; index--) {
    if (BigInt(open[index].HashKeyRange!.EndingHashKey!) + BigInt(1) === BigInt(open[index + 1].HashKeyRange!.StartingHashKey!)) {
      return [open[index], open[index + 1]];
    }
  }
  return undefined;
}
