import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceNotFoundException as TableNotFoundException,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamsCommand,
  ResourceNotFoundException as StreamMissingException,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localDynamoDbClient,
  localKinesisClient,
  startDynalite,
  startKinesalite,
  type RunningEmulator,
} from './emulators';
import { waitUntilActive } from '../mapping/resharding';
import { classifyRow } from '../../lambda/lease-rows';

/** Kinesis and DynamoDB for a local run: in-process emulators, or endpoints already running. */
export interface LocalServices {
  readonly kinesisEndpoint: string;
  readonly dynamoDbEndpoint: string;
  readonly kinesis: KinesisClient;
  readonly dynamoDb: DynamoDBClient;
  /** Which services were started in-process (and are stopped by `close`). */
  readonly emulated: { readonly kinesis: boolean; readonly dynamoDb: boolean };
  close(): Promise<void>;
}

/** An endpoint given on the command line does not answer. */
export class EndpointUnreachableError extends Error {
  override readonly name = 'EndpointUnreachableError';
}

export interface LocalServicesOptions {
  /** Use this Kinesis endpoint (e.g. LocalStack) instead of starting kinesalite. */
  readonly kinesisEndpoint?: string;
  /** Use this DynamoDB endpoint instead of starting dynalite. */
  readonly dynamoDbEndpoint?: string;
}

/** Starts what is not given, then checks that both endpoints answer. */
export async function connectLocalServices(options: LocalServicesOptions = {}): Promise<LocalServices> {
  const started: RunningEmulator[] = [];
  try {
    const kinesisEndpoint = options.kinesisEndpoint ?? (await remember(started, startKinesalite())).endpoint;
    const dynamoDbEndpoint = options.dynamoDbEndpoint ?? (await remember(started, startDynalite())).endpoint;
    await checkReachable('Kinesis', kinesisEndpoint, () =>
      probeKinesis(kinesisEndpoint).send(new ListStreamsCommand({ Limit: 1 })),
    );
    await checkReachable('DynamoDB', dynamoDbEndpoint, () =>
      probeDynamoDb(dynamoDbEndpoint).send(new ListTablesCommand({ Limit: 1 })),
    );
    const kinesis = localKinesisClient(kinesisEndpoint);
    const dynamoDb = localDynamoDbClient(dynamoDbEndpoint);
    return {
      kinesisEndpoint,
      dynamoDbEndpoint,
      kinesis,
      dynamoDb,
      emulated: { kinesis: !options.kinesisEndpoint, dynamoDb: !options.dynamoDbEndpoint },
      close: async () => {
        kinesis.destroy();
        dynamoDb.destroy();
        await Promise.all(started.map((emulator) => emulator.close()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((emulator) => emulator.close()));
    throw error;
  }
}

async function remember(started: RunningEmulator[], starting: Promise<RunningEmulator>): Promise<RunningEmulator> {
  const emulator = await starting;
  started.push(emulator);
  return emulator;
}

/** Short timeouts and no retries: an unreachable endpoint should fail in seconds, not minutes. */
const probeHandler = () => new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 5000 });

function probeKinesis(endpoint: string): KinesisClient {
  return new KinesisClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1, requestHandler: probeHandler() });
}

function probeDynamoDb(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1, requestHandler: probeHandler() });
}

async function checkReachable(service: string, endpoint: string, probe: () => Promise<unknown>): Promise<void> {
  try {
    await probe();
  } catch (error) {
    const cause = error as { code?: string; message?: string; name?: string };
    throw new EndpointUnreachableError(
      `Cannot reach ${service} at ${endpoint}: ${cause.code ?? cause.name ?? 'error'}${cause.message ? ` (${cause.message})` : ''}.`,
      { cause: error },
    );
  }
}

/** Creates a stream and waits until it is ACTIVE. */
export async function createStream(kinesis: KinesisClient, streamName: string, shardCount: number): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  await waitUntilActive(kinesis, streamName);
}

/** True if the stream exists. */
export async function streamExists(kinesis: KinesisClient, streamName: string): Promise<boolean> {
  try {
    await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    return true;
  } catch (error) {
    if (error instanceof StreamMissingException) return false;
    throw error;
  }
}

/** Creates the checkpoint table the runtime needs (key `leaseKey` (S), on demand) unless it exists. */
export async function ensureCheckpointTable(dynamoDb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamoDb.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof TableNotFoundException)) throw error;
  }
  await dynamoDb.send(
    new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (let attempt = 0; attempt < 200; attempt++) {
    const table = await dynamoDb.send(new DescribeTableCommand({ TableName: tableName }));
    if (table.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Table ${tableName} did not become ACTIVE`);
}

/** One row of the checkpoint table, as the summary shows it. */
export interface CheckpointRow {
  readonly leaseKey: string;
  readonly checkpoint?: string;
  readonly checkpointSubSequenceNumber?: number;
  readonly leaseCounter?: number;
  readonly leaseOwner?: string;
  readonly parentShardId?: readonly string[];
}

/** Reads every lease row of the checkpoint table back (consistent scan); rows that are not leases are skipped. */
export async function readCheckpointRows(dynamoDb: DynamoDBClient, tableName: string): Promise<CheckpointRow[]> {
  const rows: CheckpointRow[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamoDb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) {
      // KCL 3 keeps worker metrics and coordinator state in the same table: not shards.
      if (classifyRow(item).kind !== 'lease') continue;
      rows.push({
        leaseKey: item.leaseKey?.S ?? '',
        checkpoint: item.checkpoint?.S,
        checkpointSubSequenceNumber: item.checkpointSubSequenceNumber?.N !== undefined ? Number(item.checkpointSubSequenceNumber.N) : undefined,
        leaseCounter: item.leaseCounter?.N !== undefined ? Number(item.leaseCounter.N) : undefined,
        leaseOwner: item.leaseOwner?.S,
        parentShardId: item.parentShardId?.SS,
      });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return rows.sort((a, b) => a.leaseKey.localeCompare(b.leaseKey));
}
