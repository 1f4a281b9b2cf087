/**
 * The Kinesis side of shard-end handling. Lambda never says that a shard ended, so
 * when a child shard first shows up the engine asks here for the child's parents
 * (ListShards) and for what is left of each parent after its checkpoint
 * (GetShardIterator + GetRecords). Deciding whether a parent is finished, calling
 * `shardEnded` and writing SHARD_END belong to the lifecycle engine, not to this file.
 */
import type {
  GetRecordsCommandOutput,
  KinesisClient,
  ListShardsCommandInput,
  Shard,
  ShardIteratorType,
  _Record,
} from '@aws-sdk/client-kinesis';
import { loadKinesisModule } from './aws-clients';
import { SHARD_END, isNumericSequenceNumber, isValidSequenceNumber } from '../records/sequence-number';

export { streamNameFromArn } from '../records/stream-arn';

/** One raw Kinesis record (a KPL aggregate is still packed). */
export interface ShardRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly approximateArrivalTimestamp?: Date;
}

/** What is left of a shard at and after a position. */
export interface ParentRead {
  /**
   * True when the read reached the end of a closed shard (GetRecords returned no
   * NextShardIterator): `records` is then everything left at or after the position.
   * Closed is not drained: the parent is drained when it is closed and every record
   * in `records` is already processed (with a numeric checkpoint the checkpointed
   * record itself is always among them). False for an open shard, for a shard with
   * more records than `records` holds, and when the call budget ran out first.
   */
  readonly closed: boolean;
  /**
   * The shard no longer exists (aged out of retention / ResourceNotFound): it cannot
   * block its children. `closed` is then false and `records` empty.
   */
  readonly expired: boolean;
  /**
   * Raw records found at or after the position (first non-empty page only; the
   * engine decides which are still unprocessed, e.g. leftover sub-records of a KPL
   * aggregate at the checkpoint itself). Empty when nothing is left.
   */
  readonly records: readonly ShardRecord[];
}

export interface ShardLineageOptions {
  /**
   * Most GetRecords calls one `readFrom` makes. Empty pages are normal before the
   * end of a closed shard (kinesalite needs up to 3 calls; Kinesis can return empty
   * pages over quiet stretches), while a shard allows 5 GetRecords calls per second
   * shared with the event source mapping. @default 5
   */
  readonly maxGetRecordsCalls?: number;
  /** GetRecords `Limit`: the engine only needs to see whether anything is unprocessed. @default 10 */
  readonly recordsPerCall?: number;
}

const DEFAULT_MAX_GET_RECORDS_CALLS = 5;
const DEFAULT_RECORDS_PER_CALL = 10;

/** A stream's shards by id, as of the last ListShards. */
type ShardsById = ReadonlyMap<string, Shard>;

export class ShardLineage {
  private readonly maxGetRecordsCalls: number;
  private readonly recordsPerCall: number;
  /** Per stream name: the last complete listing. Lives as long as the container. */
  private readonly listings = new Map<string, ShardsById>();
  /** Per stream name: a ListShards walk in flight, shared by concurrent callers. */
  private readonly refreshing = new Map<string, Promise<ShardsById>>();

  /** The client `kinesis` built, when it is a builder. */
  private built?: Promise<KinesisClient>;

  /**
   * @param kinesis the client, or a function that builds it on first use (most
   * containers never see a new shard, so they never load the Kinesis SDK)
   */
  constructor(
    private readonly kinesis: KinesisClient | (() => Promise<KinesisClient>),
    options: ShardLineageOptions = {},
  ) {
    this.maxGetRecordsCalls = positiveInteger('maxGetRecordsCalls', options.maxGetRecordsCalls ?? DEFAULT_MAX_GET_RECORDS_CALLS);
    this.recordsPerCall = positiveInteger('recordsPerCall', options.recordsPerCall ?? DEFAULT_RECORDS_PER_CALL);
  }

  /**
   * Parent shard ids of a shard: `[ParentShardId, AdjacentParentShardId]`, whichever
   * exist (none for a shard the stream was created with, one after a split, two after
   * a merge). ListShards results are cached per instance and refreshed when an
   * unknown shard id is asked for.
   *
   * A shard that even a fresh, complete listing does not contain yields `[]`: ListShards
   * lists every shard still within retention, so such a shard has aged out, and its
   * parents, which closed before it opened, have aged out too and cannot block it.
   * Errors of ListShards itself (missing stream, access denied, throttling) propagate.
   */
  async parentsOf(streamName: string, shardId: string): Promise<string[]> {
    let shard = this.listings.get(streamName)?.get(shardId);
    if (shard === undefined) shard = (await this.refresh(streamName)).get(shardId);
    if (shard === undefined) return [];
    return [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => id !== undefined && id !== '');
  }

  /**
   * Reads a shard from a checkpoint position: AT_SEQUENCE_NUMBER for a numeric
   * sequence number (the checkpointed record itself comes back, needed for partially
   * processed KPL aggregates), TRIM_HORIZON for the TRIM_HORIZON / LATEST /
   * AT_TIMESTAMP sentinels (reading too much is safe, skipping is not). A SHARD_END
   * position is already finished and costs no call. Walks GetRecords pages, at most
   * `maxGetRecordsCalls`, until it finds records or the shard ends; after the first
   * non-empty page it keeps walking empty pages only to learn whether the shard ends
   * there. ResourceNotFoundException means the shard aged out (`expired`); other
   * errors propagate.
   */
  async readFrom(streamName: string, shardId: string, sequenceNumber: string, atTimestamp?: Date): Promise<ParentRead> {
    if (!isValidSequenceNumber(sequenceNumber)) {
      throw new TypeError(`Not a Kinesis sequence number or KCL sentinel: ${JSON.stringify(sequenceNumber)}`);
    }
    if (sequenceNumber === SHARD_END) return { closed: true, expired: false, records: [] };
    try {
      return await this.walk(streamName, shardId, sequenceNumber, atTimestamp);
    } catch (error) {
      if (isResourceNotFound(error)) return { closed: false, expired: true, records: [] };
      throw error;
    }
  }

  private async walk(streamName: string, shardId: string, sequenceNumber: string, atTimestamp?: Date): Promise<ParentRead> {
    const atSequence = isNumericSequenceNumber(sequenceNumber);
    const fromTimestamp = !atSequence && atTimestamp !== undefined;
    const [kinesis, { GetShardIteratorCommand, GetRecordsCommand }] = await Promise.all([this.client(), loadKinesisModule()]);
    const start = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: (atSequence ? 'AT_SEQUENCE_NUMBER' : fromTimestamp ? 'AT_TIMESTAMP' : 'TRIM_HORIZON') satisfies ShardIteratorType,
        StartingSequenceNumber: atSequence ? sequenceNumber : undefined,
        Timestamp: fromTimestamp ? atTimestamp : undefined,
      }),
    );
    // Without an iterator nothing was read; it must not pass for a drained shard.
    if (start.ShardIterator === undefined) throw new Error(`GetShardIterator returned no iterator for ${shardId} in ${streamName}`);
    let iterator: string | undefined = start.ShardIterator;
    let records: ShardRecord[] = [];
    for (let call = 0; call < this.maxGetRecordsCalls && iterator !== undefined; call++) {
      const page: GetRecordsCommandOutput = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.recordsPerCall }));
      const found = (page.Records ?? []).map(toShardRecord);
      // More records beyond the first non-empty page: the shard does not end after `records`.
      if (found.length > 0 && records.length > 0) return { closed: false, expired: false, records };
      if (found.length > 0) records = found;
      iterator = page.NextShardIterator ?? undefined;
    }
    return { closed: iterator === undefined, expired: false, records };
  }

  private refresh(streamName: string): Promise<ShardsById> {
    const inFlight = this.refreshing.get(streamName);
    if (inFlight !== undefined) return inFlight;
    const listing = this.listAllShards(streamName)
      .then((shards) => {
        this.listings.set(streamName, shards);
        return shards;
      })
      .finally(() => this.refreshing.delete(streamName));
    this.refreshing.set(streamName, listing);
    return listing;
  }

  private client(): Promise<KinesisClient> {
    if (typeof this.kinesis !== 'function') return Promise.resolve(this.kinesis);
    this.built ??= this.kinesis();
    return this.built;
  }

  private async listAllShards(streamName: string): Promise<ShardsById> {
    const [kinesis, { ListShardsCommand }] = await Promise.all([this.client(), loadKinesisModule()]);
    const shards = new Map<string, Shard>();
    let nextToken: string | undefined;
    do {
      // A NextToken already names the stream; Kinesis rejects both together.
      const input: ListShardsCommandInput = nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken };
      const page = await kinesis.send(new ListShardsCommand(input));
      for (const shard of page.Shards ?? []) {
        if (shard.ShardId !== undefined) shards.set(shard.ShardId, shard);
      }
      nextToken = page.NextToken ?? undefined;
    } while (nextToken !== undefined);
    return shards;
  }
}

function toShardRecord(record: _Record): ShardRecord {
  if (record.SequenceNumber === undefined) throw new TypeError('GetRecords returned a record without a SequenceNumber');
  return {
    sequenceNumber: record.SequenceNumber,
    partitionKey: record.PartitionKey ?? '',
    data: record.Data ?? new Uint8Array(),
    approximateArrivalTimestamp: record.ApproximateArrivalTimestamp,
  };
}

function isResourceNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'ResourceNotFoundException';
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`ShardLineage option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
