import { type ExtendedSequenceNumber, TRIM_HORIZON } from '../records/sequence-number';

/**
 * A shard's row in the KCL lease table, as far as a Lambda consumer uses it.
 * `leaseCounter` is the optimistic-concurrency token; 0 means no row exists yet.
 */
export interface Lease {
  /** The row's key: the shard id, or `account:stream:creationEpoch:shardId` with multi-stream keys. */
  readonly leaseKey: string;
  /** The table has a row for the shard (KCL creates rows with leaseCounter 0 before any worker takes them). */
  readonly exists: boolean;
  readonly checkpoint: ExtendedSequenceNumber;
  readonly leaseCounter: number;
  readonly leaseOwner?: string;
  /**
   * KCL 3's graceful handoff: the old owner, set while `leaseOwner` already names the
   * new one and the old owner has yet to checkpoint.
   */
  readonly checkpointOwner?: string;
  /** The runtime's own note of when it first saw the row's handoff state (see lease-handoff.ts). */
  readonly handoffSeen?: string;
  readonly ownerSwitchesSinceCheckpoint: number;
  readonly parentShardIds?: readonly string[];
  /** Multi-stream rows: the `streamName` (KCL's serialized stream identifier) and `shardId` attributes. */
  readonly multiStream?: MultiStreamAttributes;
}

/** The attributes KCL writes on every multi-stream lease row besides its key. */
export interface MultiStreamAttributes {
  /** `account:streamName:creationEpoch` (KCL keeps the stream identifier in an attribute named `streamName`). */
  readonly streamName: string;
  readonly shardId: string;
}

/** The lease of a shard nobody has processed: start at the oldest record. */
export function newLease(leaseKey: string, multiStream?: MultiStreamAttributes): Lease {
  return {
    leaseKey,
    checkpoint: { sequenceNumber: TRIM_HORIZON, subSequenceNumber: 0 },
    exists: false,
    leaseCounter: 0,
    ownerSwitchesSinceCheckpoint: 0,
    multiStream,
  };
}

export function leaseExists(lease: Lease): boolean {
  return lease.exists;
}

/** Where leases are read and conditionally written. */
export interface LeaseStore {
  readonly tableName: string;
  /**
   * Consistent read of a lease; undefined when the table has no row for it. A row that
   * is not a lease (KCL 3's worker metrics, leader or migration rows) is refused with
   * `CheckpointTableError`, never returned.
   */
  getLease(leaseKey: string): Promise<Lease | undefined>;
  /**
   * Writes a checkpoint if the row still carries `expected.leaseCounter` and
   * `expected.checkpointOwner` (or, for a lease that does not exist yet, if no row
   * exists). Returns the lease as written.
   * Throws `CheckpointError`: ShutdownException when another writer got there first.
   */
  writeCheckpoint(expected: Lease, update: CheckpointUpdate): Promise<Lease>;
  /**
   * Notes on a row in a KCL 3 handoff when the runtime first saw that state, if the row
   * is still exactly `expected`; changes no attribute KCL reads. False when the row
   * changed meanwhile (read it again).
   */
  noteHandoff(expected: Lease, note: string): Promise<boolean>;
}

export interface CheckpointUpdate {
  readonly checkpoint: ExtendedSequenceNumber;
  /** Written as `leaseOwner`: never empty, since it is the hash key of KCL 3's `LeaseOwnerToLeaseKeyIndex`. */
  readonly owner: string;
  /** Recorded when the row is created (KCL's `parentShardId`). */
  readonly parentShardIds?: readonly string[];
}

/** The lease a successful `writeCheckpoint` leaves behind. */
export function applyCheckpoint(expected: Lease, update: CheckpointUpdate): Lease {
  return {
    leaseKey: expected.leaseKey,
    exists: true,
    checkpoint: update.checkpoint,
    leaseCounter: expected.leaseCounter + 1,
    leaseOwner: update.owner,
    // A write over a handoff (only after it went stale) completes it, as KCL's takeover does.
    checkpointOwner: undefined,
    handoffSeen: undefined,
    ownerSwitchesSinceCheckpoint: 0,
    parentShardIds: expected.parentShardIds ?? nonEmpty(update.parentShardIds),
    multiStream: expected.multiStream,
  };
}

function nonEmpty(ids: readonly string[] | undefined): readonly string[] | undefined {
  return ids && ids.length > 0 ? ids : undefined;
}
