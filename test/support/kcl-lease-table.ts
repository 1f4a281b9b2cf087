/**
 * A KCL 3.5 lease table as KCL leaves it, for tests: the table with KCL 3's index,
 * lease rows with every attribute KCL 3.5 writes (names and DynamoDB types as its
 * lease serializer writes them), the rows KCL 3.5 keeps there that are not leases, and
 * a simulated KCL worker that renews, takes and checkpoints leases by KCL's rules
 * through the real DynamoDB client.
 */
import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

let tables = 0;

/** A table shaped like the one KCL 3 creates: key leaseKey (S), LeaseOwnerToLeaseKeyIndex (leaseOwner S, leaseKey S, KEYS_ONLY). */
export async function createKcl3Table(admin: DynamoDBClient, withIndex = true): Promise<string> {
  tables += 1;
  const tableName = `kcl3-leases-${tables}`;
  await admin.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [
        { AttributeName: 'leaseKey', AttributeType: 'S' },
        ...(withIndex ? [{ AttributeName: 'leaseOwner', AttributeType: 'S' as const }] : []),
      ],
      KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: withIndex
        ? [
            {
              IndexName: 'LeaseOwnerToLeaseKeyIndex',
              KeySchema: [
                { AttributeName: 'leaseOwner', KeyType: 'HASH' },
                { AttributeName: 'leaseKey', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'KEYS_ONLY' },
            },
          ]
        : undefined,
    }),
  );
  for (let attempt = 0; attempt < 500; attempt++) {
    const { Table } = await admin.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE')) {
      return tableName;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

export interface Kcl35LeaseFields {
  readonly leaseOwner?: string;
  readonly leaseCounter?: number;
  readonly checkpoint?: string;
  readonly checkpointSubSequenceNumber?: number;
  readonly checkpointOwner?: string;
  readonly parentShardIds?: readonly string[];
  /** Multi-stream rows: KCL's serialized stream identifier and the bare shard id. */
  readonly streamName?: string;
  readonly shardId?: string;
}

/** A lease row with every attribute KCL 3.5 writes, in its types. */
export function kcl35Lease(leaseKey: string, fields: Kcl35LeaseFields = {}): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    leaseKey: { S: leaseKey },
    leaseOwner: { S: fields.leaseOwner ?? 'kcl-worker-a' },
    leaseCounter: { N: String(fields.leaseCounter ?? 17) },
    ownerSwitchesSinceCheckpoint: { N: '2' },
    checkpoint: { S: fields.checkpoint ?? '49600000000000000000000000000000000000000000000000000000' },
    checkpointSubSequenceNumber: { N: String(fields.checkpointSubSequenceNumber ?? 0) },
    pendingCheckpoint: { S: '49600000000000000000000000000000000000000000000000000500' },
    pendingCheckpointSubSequenceNumber: { N: '3' },
    pendingCheckpointState: { B: Uint8Array.from([0x01, 0x02, 0xff]) },
    childShardIds: { SS: ['shardId-000000000007', 'shardId-000000000008'] },
    startingHashKey: { S: '0' },
    endingHashKey: { S: '340282366920938463463374607431768211455' },
    throughputKBps: { N: '12.5' },
    entityType: { S: 'LEASE' },
  };
  if (fields.parentShardIds) item.parentShardId = { SS: [...fields.parentShardIds] };
  if (fields.checkpointOwner) item.checkpointOwner = { S: fields.checkpointOwner };
  if (fields.streamName) item.streamName = { S: fields.streamName };
  if (fields.shardId) item.shardId = { S: fields.shardId };
  return item;
}

/**
 * One row of each kind KCL 3.5 keeps in the lease table besides leases, keyed as KCL
 * keys them. `workerId` lets a test give a worker-metrics row a shard's key (a
 * collision KCL allows, since a worker id is any string).
 */
export function kcl35NonLeaseRows(workerId = 'kcl-worker-a'): Record<string, AttributeValue>[] {
  return [
    {
      leaseKey: { S: workerId },
      entityType: { S: 'WORKER_METRIC_STATS' },
      lastUpdateTime: { N: '1764600000' },
      metricStats: { M: { C: { L: [{ N: '41.5' }] } } },
      operatingRange: { M: { C: { L: [{ N: '80' }] } } },
    },
    {
      leaseKey: { S: 'Leader' },
      entityType: { S: 'LEADER' },
      ownerName: { S: workerId },
      leaseDuration: { S: '60000' },
      recordVersionNumber: { S: 'a1b2c3' },
    },
    {
      leaseKey: { S: 'Migration3.0' },
      entityType: { S: 'CLIENT_VERSION_MIGRATION' },
      cv: { S: 'CLIENT_VERSION_3X' },
      mb: { S: workerId },
      mts: { N: '1764600000000' },
    },
    { leaseKey: { S: 'TableMigration3.5' }, entityType: { S: 'TABLE_MIGRATION' }, tm: { S: 'TABLE_MIGRATION_STATUS_COMPLETE' } },
    { leaseKey: { S: '123456789012:orders:1764600000000' }, entityType: { S: 'STREAM' }, streamId: { S: 'a1b2c3d4' } },
  ];
}

export async function scanTable(admin: DynamoDBClient, tableName: string): Promise<Record<string, AttributeValue>[]> {
  const { Items } = await admin.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return Items ?? [];
}

export async function getRow(admin: DynamoDBClient, tableName: string, leaseKey: string): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await admin.send(new GetItemCommand({ TableName: tableName, Key: { leaseKey: { S: leaseKey } }, ConsistentRead: true }));
  return Item;
}

/** One record a consumer processed, for exactly-once assertions across a cut-over. */
export interface LoggedRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly by: string;
}

/**
 * A KCL worker reduced to its lease rules, driving the real table:
 * - renew: every lease it holds gets `leaseCounter + 1`, conditional on the counter it
 *   last saw (KCL's renewer); a lost condition means the lease is lost;
 * - take: a lease whose counter did not move for `failoverMs` is expired, whoever owns it
 *   (a `kcl-lambda:` owner included, since nothing renews it); it is taken with
 *   `leaseOwner = me`, `leaseCounter + 1`, `ownerSwitchesSinceCheckpoint + 1`, and any
 *   `checkpointOwner` removed (KCL's taker);
 * - process: for a held lease, read the shard after its checkpoint (or from
 *   TRIM_HORIZON) and checkpoint the last record (conditional on the counter).
 */
export class SimulatedKclWorker {
  private readonly held = new Map<string, number>();
  private readonly lastSeen = new Map<string, { counter: number; at: number }>();
  private renewing?: NodeJS.Timeout;
  private renewal: Promise<void> = Promise.resolve();
  renewals = 0;
  private readonly renewalsByKey = new Map<string, number>();
  readonly lost: string[] = [];

  constructor(
    private readonly dynamoDb: DynamoDBClient,
    private readonly tableName: string,
    readonly workerId: string,
  ) {}

  /** Start as the owner of `leaseKey` at its current counter (a worker already running). */
  async adopt(leaseKey: string): Promise<void> {
    const row = await getRow(this.dynamoDb, this.tableName, leaseKey);
    if (row?.leaseOwner?.S !== this.workerId) throw new Error(`${leaseKey} is not owned by ${this.workerId}`);
    this.held.set(leaseKey, Number(row.leaseCounter?.N ?? '0'));
  }

  /** How often this worker renewed `leaseKey`. */
  renewalsOf(leaseKey: string): number {
    return this.renewalsByKey.get(leaseKey) ?? 0;
  }

  holds(leaseKey: string): boolean {
    return this.held.has(leaseKey);
  }

  /** Renews every held lease every `intervalMs` until `stop`. */
  startRenewing(intervalMs: number): void {
    this.renewing = setInterval(() => {
      this.renewal = this.renewal.then(() => this.renewAll());
    }, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.renewing) clearInterval(this.renewing);
    await this.renewal;
  }

  async renewAll(): Promise<void> {
    for (const [leaseKey, counter] of [...this.held]) {
      try {
        await this.dynamoDb.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { leaseKey: { S: leaseKey } },
            UpdateExpression: 'SET leaseCounter = :next',
            ConditionExpression: 'leaseCounter = :counter AND leaseOwner = :me',
            ExpressionAttributeValues: { ':next': { N: String(counter + 1) }, ':counter': { N: String(counter) }, ':me': { S: this.workerId } },
          }),
        );
        this.held.set(leaseKey, counter + 1);
        this.renewals += 1;
        this.renewalsByKey.set(leaseKey, (this.renewalsByKey.get(leaseKey) ?? 0) + 1);
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
        this.held.delete(leaseKey);
        this.lost.push(leaseKey);
      }
    }
  }

  /**
   * One pass of KCL's lease taker: note every lease's counter; take those whose counter
   * has not moved for `failoverMs` since first noted (or that have no owner).
   */
  async takeExpiredLeases(failoverMs: number, now = Date.now()): Promise<string[]> {
    const taken: string[] = [];
    for (const row of await scanTable(this.dynamoDb, this.tableName)) {
      if (row.entityType?.S !== undefined && row.entityType.S !== 'LEASE') continue;
      const leaseKey = row.leaseKey!.S!;
      if (this.held.has(leaseKey)) continue;
      const counter = Number(row.leaseCounter?.N ?? '0');
      const seen = this.lastSeen.get(leaseKey);
      if (!seen || seen.counter !== counter) this.lastSeen.set(leaseKey, { counter, at: now });
      const expired = row.leaseOwner === undefined || (seen !== undefined && seen.counter === counter && now - seen.at >= failoverMs);
      if (!expired) continue;
      try {
        await this.dynamoDb.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { leaseKey: { S: leaseKey } },
            UpdateExpression: 'SET leaseOwner = :me, leaseCounter = :next ADD ownerSwitchesSinceCheckpoint :one REMOVE checkpointOwner',
            ConditionExpression: 'leaseCounter = :counter',
            ExpressionAttributeValues: { ':me': { S: this.workerId }, ':next': { N: String(counter + 1) }, ':counter': { N: String(counter) }, ':one': { N: '1' } },
          }),
        );
        this.held.set(leaseKey, counter + 1);
        taken.push(leaseKey);
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      }
    }
    return taken;
  }

  /** Reads the shard of a held lease after its checkpoint, logs each record, and checkpoints the last. */
  async processShard(kinesis: KinesisClient, streamName: string, leaseKey: string, shardId: string, log: LoggedRecord[]): Promise<number> {
    const row = await getRow(this.dynamoDb, this.tableName, leaseKey);
    const checkpoint = row?.checkpoint?.S ?? 'TRIM_HORIZON';
    if (checkpoint === 'SHARD_END') return 0;
    const numeric = /^\d+$/.test(checkpoint);
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: numeric ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
        StartingSequenceNumber: numeric ? checkpoint : undefined,
      }),
    );
    let iterator = ShardIterator;
    let last: string | undefined;
    let count = 0;
    for (let page = 0; page < 20 && iterator; page++) {
      const result = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      for (const record of result.Records ?? []) {
        log.push({ shardId, sequenceNumber: record.SequenceNumber!, by: this.workerId });
        last = record.SequenceNumber!;
        count += 1;
      }
      if ((result.Records ?? []).length === 0 && result.MillisBehindLatest === 0) break;
      iterator = result.NextShardIterator;
    }
    if (last !== undefined) await this.checkpoint(leaseKey, last);
    return count;
  }

  private async checkpoint(leaseKey: string, sequenceNumber: string): Promise<void> {
    const counter = this.held.get(leaseKey);
    if (counter === undefined) throw new Error(`${this.workerId} does not hold ${leaseKey}`);
    await this.dynamoDb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { leaseKey: { S: leaseKey } },
        UpdateExpression: 'SET #checkpoint = :seq, checkpointSubSequenceNumber = :zero, leaseCounter = :next, ownerSwitchesSinceCheckpoint = :zero',
        ConditionExpression: 'leaseCounter = :counter AND leaseOwner = :me',
        ExpressionAttributeNames: { '#checkpoint': 'checkpoint' },
        ExpressionAttributeValues: {
          ':seq': { S: sequenceNumber },
          ':zero': { N: '0' },
          ':next': { N: String(counter + 1) },
          ':counter': { N: String(counter) },
          ':me': { S: this.workerId },
        },
      }),
    );
    this.held.set(leaseKey, counter + 1);
  }
}
