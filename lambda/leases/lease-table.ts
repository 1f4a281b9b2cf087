import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CheckpointError, CheckpointTableError, NonLeaseRowError } from '../errors';
import { type CheckpointUpdate, type Lease, type LeaseStore, applyCheckpoint, leaseExists } from './lease';
import { LEASE_ENTITY_TYPE, classifyRow, parseLeaseRow } from './lease-row';
import { HANDOFF_SEEN_ATTRIBUTE } from './lease-handoff';

/**
 * The checkpoint table in KCL's lease-table schema: key `leaseKey` (S) = shard id (or
 * KCL's multi-stream key); `checkpoint` (S), `checkpointSubSequenceNumber` (N),
 * `leaseCounter` (N), `leaseOwner` (S), `ownerSwitchesSinceCheckpoint` (N),
 * `parentShardId` (SS), and on multi-stream rows `streamName` (S) and `shardId` (S).
 * A KCL worker pointed at the same table resumes where Lambda stopped, and back.
 *
 * An existing row is only ever changed with UpdateItem on the attributes above (and,
 * during a KCL 3 handoff, the runtime's own note `kclLambdaHandoffSeen`), so
 * what KCL 3 keeps there besides (checkpointOwner, pendingCheckpoint*, childShardIds,
 * hash keys, throughputKBps, entityType, …) survives; rows that are not leases are
 * neither read as leases nor written.
 */
export class DynamoDbLeaseTable implements LeaseStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  async getLease(leaseKey: string): Promise<Lease | undefined> {
    try {
      const { Item } = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { leaseKey: { S: leaseKey } }, ConsistentRead: true }),
      );
      return Item ? leaseFromItem(this.tableName, leaseKey, Item) : undefined;
    } catch (error) {
      if (error instanceof CheckpointTableError) throw error;
      throw tableReadError(this.tableName, leaseKey, error);
    }
  }

  async writeCheckpoint(expected: Lease, update: CheckpointUpdate): Promise<Lease> {
    if (update.owner === '') {
      // The owner is the hash key of LeaseOwnerToLeaseKeyIndex: DynamoDB refuses an empty one.
      throw new CheckpointError('IllegalArgumentException', `cannot checkpoint ${expected.leaseKey} without a lease owner`);
    }
    const written = applyCheckpoint(expected, update);
    try {
      if (leaseExists(expected)) await this.client.send(this.update(expected, written));
      else await this.client.send(this.create(written));
      return written;
    } catch (error) {
      if (isConditionalCheckFailure(error)) {
        if (await this.alreadyWritten(written)) return written;
        await this.refuseNonLease(expected.leaseKey, error);
      }
      throw checkpointWriteError(this.tableName, expected, error);
    }
  }

  async noteHandoff(expected: Lease, note: string): Promise<boolean> {
    const values: Record<string, AttributeValue> = {
      ':note': { S: note },
      ':expected': { N: String(expected.leaseCounter) },
      ':checkpointOwner': { S: expected.checkpointOwner ?? '' },
      ':checkpoint': { S: expected.checkpoint.sequenceNumber },
      ':sub': { N: String(expected.checkpoint.subSequenceNumber) },
      ':lease': { S: LEASE_ENTITY_TYPE },
    };
    if (expected.leaseOwner !== undefined) values[':owner'] = { S: expected.leaseOwner };
    if (expected.handoffSeen !== undefined) values[':previous'] = { S: expected.handoffSeen };
    // Exactly the state that was judged, so the note never dates a state it did not see.
    const conditions = [
      expected.leaseCounter === 0 ? '(attribute_not_exists(leaseCounter) OR leaseCounter = :expected)' : 'leaseCounter = :expected',
      'checkpointOwner = :checkpointOwner',
      expected.leaseOwner === undefined ? 'attribute_not_exists(leaseOwner)' : 'leaseOwner = :owner',
      '#checkpoint = :checkpoint',
      '(attribute_not_exists(checkpointSubSequenceNumber) OR checkpointSubSequenceNumber = :sub)',
      expected.handoffSeen === undefined ? 'attribute_not_exists(#seen)' : '#seen = :previous',
      '(attribute_not_exists(entityType) OR entityType = :lease)',
    ];
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { leaseKey: { S: expected.leaseKey } },
          UpdateExpression: 'SET #seen = :note',
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#seen': HANDOFF_SEEN_ATTRIBUTE, '#checkpoint': 'checkpoint' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false;
      throw checkpointWriteError(this.tableName, expected, error);
    }
  }

  /**
   * A condition can fail because our own write landed and the SDK retried it after a
   * lost response. If the row holds exactly what we wrote, the write succeeded.
   */
  private async alreadyWritten(written: Lease): Promise<boolean> {
    const current = await this.getLease(written.leaseKey).catch(() => undefined);
    return (
      current !== undefined &&
      current.leaseCounter === written.leaseCounter &&
      current.leaseOwner === written.leaseOwner &&
      current.checkpoint.sequenceNumber === written.checkpoint.sequenceNumber &&
      current.checkpoint.subSequenceNumber === written.checkpoint.subSequenceNumber
    );
  }

  /** A lost condition because the key now holds a non-lease row is a table error, not a lost lease. */
  private async refuseNonLease(leaseKey: string, cause: unknown): Promise<void> {
    const error = await this.getLease(leaseKey).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    if (error instanceof NonLeaseRowError) throw new NonLeaseRowError(this.tableName, leaseKey, error.entityType, { cause });
  }

  /** First write of a shard: only if no row exists, so a concurrent creator wins cleanly. */
  private create(lease: Lease): PutItemCommand {
    return new PutItemCommand({
      TableName: this.tableName,
      Item: itemFromLease(lease),
      ConditionExpression: 'attribute_not_exists(leaseKey)',
    });
  }

  private update(expected: Lease, written: Lease): UpdateItemCommand {
    const conditions = [
      // KCL creates rows with leaseCounter 0 before any worker takes them; a row
      // written by hand may have no counter at all.
      expected.leaseCounter === 0 ? '(attribute_not_exists(leaseCounter) OR leaseCounter = :expected)' : 'leaseCounter = :expected',
      // KCL 3 starts a handoff without moving leaseCounter: the counter alone would not see it.
      expected.checkpointOwner === undefined ? 'attribute_not_exists(checkpointOwner)' : 'checkpointOwner = :checkpointOwner',
      // Never turn a row KCL keeps for something else into a lease.
      '(attribute_not_exists(entityType) OR entityType = :lease)',
    ];
    const values: Record<string, AttributeValue> = {
      ':checkpoint': { S: written.checkpoint.sequenceNumber },
      ':sub': { N: String(written.checkpoint.subSequenceNumber) },
      ':next': { N: String(written.leaseCounter) },
      ':owner': { S: written.leaseOwner ?? '' },
      ':zero': { N: '0' },
      ':expected': { N: String(expected.leaseCounter) },
      ':lease': { S: LEASE_ENTITY_TYPE },
    };
    if (expected.checkpointOwner !== undefined) values[':checkpointOwner'] = { S: expected.checkpointOwner };
    return new UpdateItemCommand({
      TableName: this.tableName,
      Key: { leaseKey: { S: expected.leaseKey } },
      UpdateExpression:
        'SET #checkpoint = :checkpoint, checkpointSubSequenceNumber = :sub, leaseCounter = :next, ' +
        'leaseOwner = :owner, ownerSwitchesSinceCheckpoint = :zero' +
        removals(expected),
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { '#checkpoint': 'checkpoint', ...(expected.handoffSeen === undefined ? {} : { '#seen': HANDOFF_SEEN_ATTRIBUTE }) },
      ExpressionAttributeValues: values,
    });
  }
}

/**
 * Only a stale handoff is written over; the write completes it (KCL's takeover removes
 * checkpointOwner too). The runtime's note of a handoff goes with the handoff.
 */
function removals(expected: Lease): string {
  const names = [
    ...(expected.checkpointOwner === undefined ? [] : ['checkpointOwner']),
    ...(expected.handoffSeen === undefined ? [] : ['#seen']),
  ];
  return names.length === 0 ? '' : ` REMOVE ${names.join(', ')}`;
}

function leaseFromItem(tableName: string, leaseKey: string, item: Record<string, AttributeValue>): Lease {
  const kind = classifyRow(item);
  if (kind.kind === 'other') throw new NonLeaseRowError(tableName, leaseKey, kind.entityType);
  const parsed = parseLeaseRow(item);
  if ('corrupt' in parsed) {
    throw new CheckpointTableError(tableName, `The lease of ${leaseKey} in checkpoint table "${tableName}" is corrupt: ${parsed.corrupt}`);
  }
  return { ...parsed.lease, leaseKey };
}

function itemFromLease(lease: Lease): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    leaseKey: { S: lease.leaseKey },
    checkpoint: { S: lease.checkpoint.sequenceNumber },
    checkpointSubSequenceNumber: { N: String(lease.checkpoint.subSequenceNumber) },
    leaseCounter: { N: String(lease.leaseCounter) },
    ownerSwitchesSinceCheckpoint: { N: String(lease.ownerSwitchesSinceCheckpoint) },
    // KCL 3 writes it on every lease; KCL 2.x ignores it.
    entityType: { S: LEASE_ENTITY_TYPE },
  };
  if (lease.leaseOwner) item.leaseOwner = { S: lease.leaseOwner };
  if (lease.parentShardIds && lease.parentShardIds.length > 0) item.parentShardId = { SS: [...lease.parentShardIds] };
  if (lease.multiStream) {
    item.streamName = { S: lease.multiStream.streamName };
    item.shardId = { S: lease.multiStream.shardId };
  }
  return item;
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);
/** Faults that mean the table cannot be used at all, as opposed to a passing failure. */
const UNUSABLE_TABLE = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ValidationException',
]);

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function tableReadError(tableName: string, leaseKey: string, error: unknown): CheckpointTableError {
  const name = errorName(error);
  const what = UNUSABLE_TABLE.has(name)
    ? name === 'ResourceNotFoundException'
      ? 'the table does not exist (or is in another account/region)'
      : name === 'AccessDeniedException'
        ? 'the function may not read it (dynamodb:GetItem denied)'
        : 'DynamoDB refused the request'
    : 'the read failed';
  return new CheckpointTableError(
    tableName,
    `Cannot read the lease of ${leaseKey} from checkpoint table "${tableName}": ${what} (${name}: ${errorMessage(error)})`,
    { cause: error },
  );
}

function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || errorName(error) === 'ConditionalCheckFailedException';
}

function checkpointWriteError(tableName: string, expected: Lease, error: unknown): CheckpointError {
  const name = errorName(error);
  const where = `checkpoint table "${tableName}", shard ${expected.leaseKey}`;
  if (isConditionalCheckFailure(error)) {
    return new CheckpointError(
      'ShutdownException',
      `lease lost: another writer changed ${where} since leaseCounter ${expected.leaseCounter}`,
      { cause: error },
    );
  }
  if (THROTTLING.has(name)) {
    return new CheckpointError('ThrottlingException', `DynamoDB throttled the write to ${where}`, { cause: error });
  }
  return new CheckpointError(
    'KinesisClientLibDependencyException',
    `writing ${where} failed (${name}: ${errorMessage(error)})`,
    { cause: error },
  );
}
