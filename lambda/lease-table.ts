import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CheckpointError, CheckpointTableError } from './errors';
import { type CheckpointUpdate, type Lease, type LeaseStore, applyCheckpoint, leaseExists } from './lease';

/**
 * The checkpoint table in KCL's lease-table schema: key `leaseKey` (S) = shard id;
 * `checkpoint` (S), `checkpointSubSequenceNumber` (N), `leaseCounter` (N),
 * `leaseOwner` (S), `ownerSwitchesSinceCheckpoint` (N), `parentShardId` (SS).
 * A KCL worker pointed at the same table resumes where Lambda stopped, and back.
 */
export class DynamoDbLeaseTable implements LeaseStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  async getLease(shardId: string): Promise<Lease | undefined> {
    try {
      const { Item } = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { leaseKey: { S: shardId } }, ConsistentRead: true }),
      );
      return Item ? leaseFromItem(shardId, Item) : undefined;
    } catch (error) {
      throw tableReadError(this.tableName, shardId, error);
    }
  }

  async writeCheckpoint(expected: Lease, update: CheckpointUpdate): Promise<Lease> {
    const written = applyCheckpoint(expected, update);
    try {
      if (leaseExists(expected)) await this.client.send(this.update(expected, written));
      else await this.client.send(this.create(written));
      return written;
    } catch (error) {
      throw checkpointWriteError(this.tableName, expected, error);
    }
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
    return new UpdateItemCommand({
      TableName: this.tableName,
      Key: { leaseKey: { S: expected.leaseKey } },
      UpdateExpression:
        'SET #checkpoint = :checkpoint, checkpointSubSequenceNumber = :sub, leaseCounter = :next, ' +
        'leaseOwner = :owner, ownerSwitchesSinceCheckpoint = :zero',
      ConditionExpression: 'leaseCounter = :expected',
      ExpressionAttributeNames: { '#checkpoint': 'checkpoint' },
      ExpressionAttributeValues: {
        ':checkpoint': { S: written.checkpoint.sequenceNumber },
        ':sub': { N: String(written.checkpoint.subSequenceNumber) },
        ':next': { N: String(written.leaseCounter) },
        ':owner': { S: written.leaseOwner ?? '' },
        ':zero': { N: '0' },
        ':expected': { N: String(expected.leaseCounter) },
      },
    });
  }
}

export function leaseFromItem(shardId: string, item: Record<string, AttributeValue>): Lease {
  const checkpoint = item.checkpoint?.S;
  const counter = Number(item.leaseCounter?.N ?? '0');
  return {
    leaseKey: shardId,
    checkpoint: {
      sequenceNumber: checkpoint ?? 'TRIM_HORIZON',
      subSequenceNumber: Number(item.checkpointSubSequenceNumber?.N ?? '0'),
    },
    // A row written by hand without a counter still exists: treat it as counter 0 → 1.
    leaseCounter: Number.isFinite(counter) ? counter : 0,
    leaseOwner: item.leaseOwner?.S,
    ownerSwitchesSinceCheckpoint: Number(item.ownerSwitchesSinceCheckpoint?.N ?? '0'),
    parentShardIds: item.parentShardId?.SS,
  };
}

export function itemFromLease(lease: Lease): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    leaseKey: { S: lease.leaseKey },
    checkpoint: { S: lease.checkpoint.sequenceNumber },
    checkpointSubSequenceNumber: { N: String(lease.checkpoint.subSequenceNumber) },
    leaseCounter: { N: String(lease.leaseCounter) },
    ownerSwitchesSinceCheckpoint: { N: String(lease.ownerSwitchesSinceCheckpoint) },
  };
  if (lease.leaseOwner) item.leaseOwner = { S: lease.leaseOwner };
  if (lease.parentShardIds && lease.parentShardIds.length > 0) item.parentShardId = { SS: [...lease.parentShardIds] };
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

function tableReadError(tableName: string, shardId: string, error: unknown): CheckpointTableError {
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
    `Cannot read the lease of ${shardId} from checkpoint table "${tableName}": ${what} (${name}: ${errorMessage(error)})`,
    { cause: error },
  );
}

function checkpointWriteError(tableName: string, expected: Lease, error: unknown): CheckpointError {
  const name = errorName(error);
  const where = `checkpoint table "${tableName}", shard ${expected.leaseKey}`;
  if (error instanceof ConditionalCheckFailedException || name === 'ConditionalCheckFailedException') {
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
