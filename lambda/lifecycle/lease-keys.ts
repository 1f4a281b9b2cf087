/**
 * Which row of the lease table holds a shard. KCL keys a single-stream application's
 * leases by shard id, and a multi-stream application's by
 * `account:streamName:creationEpoch:shardId` (its serialized StreamIdentifier, a
 * colon, the shard id), with the identifier and the shard id also kept in the
 * `streamName` and `shardId` attributes. Parent shard ids in `parentShardId` stay
 * bare shard ids in both formats; the parent's row is found by the same rule.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { loadKinesisModule } from './aws-clients';
import { KclConfigurationError } from '../errors';
import { type Lease, type MultiStreamAttributes, newLease } from '../leases/lease';
import type { LeaseKeyFormat } from '../options';
import { streamOfArn } from '../records/stream-arn';

/** The lease keys of one stream's shards. */
export interface StreamLeaseKeys {
  leaseKey(shardId: string): string;
  /** The lease of a shard without a row (with its multi-stream attributes, written when the row is created). */
  newLease(shardId: string): Lease;
}

const SHARD_ID_KEYS: StreamLeaseKeys = {
  leaseKey: (shardId) => shardId,
  newLease: (shardId) => newLease(shardId),
};

export function validateLeaseKeyFormat(format: unknown): LeaseKeyFormat {
  if (format !== 'shardId' && format !== 'multiStream') {
    throw new KclConfigurationError(`leaseKeys must be 'shardId' or 'multiStream', got ${JSON.stringify(format)}`);
  }
  return format;
}

/** KCL's serialized multi-stream identifier. */
export function multiStreamIdentifier(account: string, streamName: string, creationEpoch: number): string {
  return `${account}:${streamName}:${creationEpoch}`;
}

/** A serialized multi-stream identifier given explicitly, read apart. */
interface GivenIdentifier {
  readonly account: string;
  readonly streamName: string;
  readonly serialized: string;
}

// account:streamName:creationEpoch, as KCL's StreamIdentifier serializes it (names per Kinesis's rule).
const IDENTIFIER = /^([0-9]{12}):([a-zA-Z0-9_.-]{1,128}):([0-9]{1,19})$/;

/**
 * Checks the `streamIdentifier` option: KCL's `account:streamName:creationEpoch`, and
 * only with multi-stream keys (a shard-id table has no use for it).
 */
export function validateStreamIdentifier(identifier: unknown, format: LeaseKeyFormat): GivenIdentifier | undefined {
  if (identifier === undefined || identifier === '') return undefined;
  const match = typeof identifier === 'string' ? IDENTIFIER.exec(identifier) : null;
  if (match === null) {
    throw new KclConfigurationError(
      `streamIdentifier must be KCL's account:streamName:creationEpoch (12-digit account, epoch digits), got ${JSON.stringify(identifier)}`,
    );
  }
  if (format !== 'multiStream') {
    throw new KclConfigurationError(`streamIdentifier ${JSON.stringify(identifier)} applies only with leaseKeys 'multiStream'`);
  }
  return { account: match[1], streamName: match[2], serialized: match[0] };
}

/**
 * Lease keys per stream, for the life of the container. With multi-stream keys the
 * identifier is the one given (`streamIdentifier`: KCL takes the creation epoch from the
 * application, which may have used any value), else it is derived: the creation epoch
 * from DescribeStreamSummary (`StreamCreationTimestamp`, in epoch milliseconds, as KCL's
 * own multi-stream test application derives it), asked once per stream and container; a
 * failed call is asked again on the next batch.
 */
export class LeaseKeys {
  private readonly epochs = new Map<string, Promise<number>>();

  constructor(
    readonly format: LeaseKeyFormat,
    private readonly kinesis: () => Promise<KinesisClient>,
    private readonly given?: GivenIdentifier,
  ) {}

  async forStream(eventSourceArn: string): Promise<StreamLeaseKeys> {
    if (this.format === 'shardId') return SHARD_ID_KEYS;
    const { account, streamName } = streamOfArn(eventSourceArn);
    const identifier = this.given ? this.givenFor(account, streamName) : multiStreamIdentifier(account, streamName, await this.creationEpoch(account, streamName));
    const attributes = (shardId: string): MultiStreamAttributes => ({ streamName: identifier, shardId });
    return {
      leaseKey: (shardId) => `${identifier}:${shardId}`,
      newLease: (shardId) => newLease(`${identifier}:${shardId}`, attributes(shardId)),
    };
  }

  /** The given identifier, for its own stream only: another stream's rows would be mixed up with it. */
  private givenFor(account: string, streamName: string): string {
    const given = this.given!;
    if (given.account !== account || given.streamName !== streamName) {
      throw new KclConfigurationError(
        `streamIdentifier ${given.serialized} names stream ${given.account}:${given.streamName}, ` +
          `but the batch comes from ${account}:${streamName}`,
      );
    }
    return given.serialized;
  }

  private creationEpoch(account: string, streamName: string): Promise<number> {
    const key = `${account}:${streamName}`;
    let epoch = this.epochs.get(key);
    if (!epoch) {
      epoch = this.describe(streamName);
      this.epochs.set(key, epoch);
      epoch.catch(() => this.epochs.get(key) === epoch && this.epochs.delete(key));
    }
    return epoch;
  }

  private async describe(streamName: string): Promise<number> {
    const [kinesis, { DescribeStreamSummaryCommand }] = await Promise.all([this.kinesis(), loadKinesisModule()]);
    let created: Date | undefined;
    try {
      // By name, like the runtime's other Kinesis calls (kinesalite takes no StreamARN).
      const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
      created = summary.StreamDescriptionSummary?.StreamCreationTimestamp;
    } catch (error) {
      const name = error instanceof Error ? error.name : String(error);
      throw new KclConfigurationError(
        `leaseKeys 'multiStream' needs the creation time of stream ${streamName}, and DescribeStreamSummary failed ` +
          `(${name}${name === 'AccessDeniedException' ? ': grant the function kinesis:DescribeStreamSummary' : ''})`,
        { cause: error },
      );
    }
    if (!(created instanceof Date) || Number.isNaN(created.getTime())) {
      throw new KclConfigurationError(`DescribeStreamSummary gave no StreamCreationTimestamp for stream ${streamName}`);
    }
    return created.getTime();
  }
}
