/**
 * Telling KCL lease rows from the other rows KCL 3.x keeps in the same table, and
 * reading a lease row. KCL 3.5 stores worker metrics and coordinator state beside the
 * leases, told apart by `entityType`: a missing `entityType` or `LEASE` is a lease.
 * How KCL 3.5 keys the others (facts from its source, not copied code):
 * - WORKER_METRIC_STATS: `leaseKey` = the worker id (a KCL worker id, any string);
 * - LEADER: `Leader` (the DynamoDB lock client's leader lock);
 * - CLIENT_VERSION_MIGRATION: `Migration3.0`;
 * - TABLE_MIGRATION: `TableMigration3.5`;
 * - STREAM: the serialized stream identifier (the stream name, or `account:stream:epoch`).
 * A worker id or a stream name may equal a shard id, so a row is judged by its
 * `entityType`, never by its key alone; the migration and leader keys count as
 * non-lease rows even without one (KCL infers them from the key for older rows).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Lease } from './lease';
import { HANDOFF_SEEN_ATTRIBUTE } from './lease-handoff';
import { isValidSequenceNumber } from '../records/sequence-number';

/** `entityType` of a lease row (KCL 3 writes it; KCL 2.x rows have none). */
export const LEASE_ENTITY_TYPE = 'LEASE';

/** The `entityType` values of KCL 3.5's rows that are not leases. */
export const NON_LEASE_ENTITY_TYPES = [
  'WORKER_METRIC_STATS',
  'LEADER',
  'CLIENT_VERSION_MIGRATION',
  'TABLE_MIGRATION',
  'STREAM',
] as const;

/** Keys KCL uses for coordinator rows, which count as non-lease even without `entityType`. */
const COORDINATOR_KEYS: Readonly<Record<string, string>> = {
  Leader: 'LEADER',
  'Migration3.0': 'CLIENT_VERSION_MIGRATION',
  'TableMigration3.5': 'TABLE_MIGRATION',
};

/** The GSI KCL 3 keeps on the lease table (hash `leaseOwner`, range `leaseKey`, KEYS_ONLY). */
export const LEASE_OWNER_INDEX_NAME = 'LeaseOwnerToLeaseKeyIndex';

/** Every lease owner the runtime writes starts with this; to KCL it is a worker that never renews. */
export const LAMBDA_OWNER_PREFIX = 'kcl-lambda:';

export type LeaseRowKind =
  | { readonly kind: 'lease' }
  | { readonly kind: 'other'; readonly entityType: string };

/** Whether a table row is a lease, and if not, what KCL keeps in it. */
export function classifyRow(item: Record<string, AttributeValue>): LeaseRowKind {
  const entityType = item.entityType?.S;
  if (entityType === undefined) {
    const coordinator = COORDINATOR_KEYS[item.leaseKey?.S ?? ''];
    // A value of another type (not S) is no KCL entity type either.
    if (item.entityType !== undefined) return { kind: 'other', entityType: `(entityType of type ${Object.keys(item.entityType)[0]})` };
    return coordinator ? { kind: 'other', entityType: coordinator } : { kind: 'lease' };
  }
  return entityType === LEASE_ENTITY_TYPE ? { kind: 'lease' } : { kind: 'other', entityType };
}

/** What is wrong with a lease row, or the lease. */
export type ParsedLease = { readonly lease: Lease } | { readonly corrupt: string };

/** Reads a lease row (call `classifyRow` first). Numbers and sentinels are checked, not trusted. */
export function parseLeaseRow(item: Record<string, AttributeValue>): ParsedLease {
  const leaseKey = item.leaseKey?.S ?? '';
  const checkpoint = item.checkpoint?.S ?? 'TRIM_HORIZON';
  const sub = Number(item.checkpointSubSequenceNumber?.N ?? '0');
  const counter = Number(item.leaseCounter?.N ?? '0');
  if (!isValidSequenceNumber(checkpoint) || !Number.isSafeInteger(sub) || sub < 0 || !Number.isSafeInteger(counter)) {
    return {
      corrupt:
        `checkpoint ${JSON.stringify(checkpoint)}, checkpointSubSequenceNumber ${JSON.stringify(item.checkpointSubSequenceNumber?.N)}, ` +
        `leaseCounter ${JSON.stringify(item.leaseCounter?.N)}`,
    };
  }
  const streamName = item.streamName?.S;
  const shardId = item.shardId?.S;
  return {
    lease: {
      leaseKey,
      exists: true,
      checkpoint: { sequenceNumber: checkpoint, subSequenceNumber: sub },
      leaseCounter: counter,
      leaseOwner: item.leaseOwner?.S,
      checkpointOwner: item.checkpointOwner?.S,
      handoffSeen: item[HANDOFF_SEEN_ATTRIBUTE]?.S,
      ownerSwitchesSinceCheckpoint: Number(item.ownerSwitchesSinceCheckpoint?.N ?? '0'),
      parentShardIds: item.parentShardId?.SS,
      multiStream: streamName !== undefined && shardId !== undefined ? { streamName, shardId } : undefined,
    },
  };
}

/** True for an owner the runtime wrote. */
export function isLambdaOwner(owner: string | undefined): boolean {
  return owner !== undefined && owner.startsWith(LAMBDA_OWNER_PREFIX);
}
