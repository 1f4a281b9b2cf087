import { type ExtendedSequenceNumber, TRIM_HORIZON } from '../records/sequence-number';

/**
 * A shard's row in the KCL lease table, as far as a Lambda consumer uses it.
 * `leaseCounter` is the optimistic-concurrency token; 0 means no row exists yet.
 */
export interface Lease {
  readonly leaseKey: string;
  /** The table has a row for the shard (KCL creates rows with leaseCounter 0 before any worker takes them). */
  readonly exists: boolean;
  readonly checkpoint: ExtendedSequenceNumber;
  readonly leaseCounter: number;
  readonly leaseOwner?: string;
  readonly ownerSwitchesSinceCheckpoint: number;
  readonly parentShardIds?: readonly string[];
}

/** The lease of a shard nobody has processed: start at the oldest record. */
export function newLease(shardId: string): Lease {
  return {
    leaseKey: shardId,
    checkpoint: { sequenceNumber: TRIM_HORIZON, subSequenceNumber: 0 },
    exists: false,
    leaseCounter: 0,
    ownerSwitchesSinceCheckpoint: 0,
  };
}

export function leaseExists(lease: Lease): boolean {
  return lease.exists;
}

/** Where leases are read and conditionally written. */
export interface LeaseStore {
  readonly tableName: string;
  /** Consistent read of a shard's lease; undefined when the table has no row for it. */
  getLease(shardId: string): Promise<Lease | undefined>;
  /**
   * Writes a checkpoint if the row still carries `expected.leaseCounter` (or, for a
   * lease that does not exist yet, if no row exists). Returns the lease as written.
   * Throws `CheckpointError`: ShutdownException when another writer got there first.
   */
  writeCheckpoint(expected: Lease, update: CheckpointUpdate): Promise<Lease>;
}

export interface CheckpointUpdate {
  readonly checkpoint: ExtendedSequenceNumber;
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
    ownerSwitchesSinceCheckpoint: 0,
    parentShardIds: expected.parentShardIds ?? nonEmpty(update.parentShardIds),
  };
}

function nonEmpty(ids: readonly string[] | undefined): readonly string[] | undefined {
  return ids && ids.length > 0 ? ids : undefined;
}
