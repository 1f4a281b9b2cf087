import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CheckpointError, CheckpointTableError } from '../errors';
import { type CheckpointUpdate, type Lease, type LeaseStore, applyCheckpoint, leaseExists } from './lease';
import { isValidSequenceNumber } from '../records/sequence-number';

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
      return Item ? leaseFromItem(this.tableName, shardId, Item) : undefined;
    } catch (error) {
      if (error instanceof CheckpointTableError) throw error;
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
      if (isConditionalCheckFailure(error) && (await this.alreadyWritten(written))) return written;
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
      // KCL creates rows with leaseCounter 0 before any worker takes them; a row
      // written by hand may have no counter at all.
      ConditionExpression:
        expected.leaseCounter === 0 ? 'attribute_not_exists(leaseCounter) OR leaseCounter = :expected' : 'leaseCounter = :expected',
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

function leaseFromItem(tableName: string, shardId: string, item: Record<string, AttributeValue>): Lease {
  const checkpoint = item.checkpoint?.S ?? 'TRIM_HORIZON';
  const sub = Number(item.checkpointSubSequenceNumber?.N ?? '0');
  const counter = Number(item.leaseCounter?.N ?? '0');
  if (!isValidSequenceNumber(checkpoint) || !Number.isSafeInteger(sub) || sub < 0 || !Number.isSafeInteger(counter)) {
    throw new CheckpointTableError(
      tableName,
      `The lease of ${shardId} in checkpoint table "${tableName}" is corrupt: checkpoint ${JSON.stringify(checkpoint)}, ` +
        `checkpointSubSequenceNumber ${JSON.stringify(item.checkpointSubSequenceNumber?.N)}, leaseCounter ${JSON.stringify(item.leaseCounter?.N)}`,
    );
  }
  return {
    leaseKey: shardId,
    exists: true,
    checkpoint: { sequenceNumber: checkpoint, subSequenceNumber: sub },
    leaseCounter: counter,
    leaseOwner: item.leaseOwner?.S,
    ownerSwitchesSinceCheckpoint: Number(item.ownerSwitchesSinceCheckpoint?.N ?? '0'),
    parentShardIds: item.parentShardId?.SS,
  };
}

function itemFromLease(lease: Lease): Record<string, AttributeValue> {
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
