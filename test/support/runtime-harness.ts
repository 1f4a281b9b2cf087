/**
 * What runtime tests share: dynalite and kinesalite in-process, a fresh checkpoint
 * table and stream per test, Lambda-shaped events with chosen sequence numbers, a
 * count of the DynamoDB requests the engine sends, and faults injected by wrapping
 * the real client with middleware (the request still goes to dynalite unless the
 * fault replaces it).
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import type { KclOptions } from '../../lambda';
import {
  type RunningEmulator,
  localDynamoDbClient,
  localKinesisClient,
  startDynalite,
  startKinesalite,
} from '../../local/emulators/emulators';
import { ensureCheckpointTable } from '../../local/emulators/local-services';
import { createStream, listShards, uniqueStreamName } from './kinesis-stream';

export interface TestStream {
  readonly streamName: string;
  readonly streamArn: string;
  readonly shardIds: string[];
}

/** Decides per DynamoDB command: undefined lets it through; a function runs first (and may throw). */
export type DynamoDbFault = (commandName: string, input: Record<string, unknown>) => undefined | (() => Promise<void>);

export interface RuntimeHarness {
  readonly dynamoDbEndpoint: string;
  readonly kinesisEndpoint: string;
  /** The client under test: real, counted, and open to injected faults. */
  readonly dynamoDb: DynamoDBClient;
  /** A second, untouched client for the test's own reads and writes. */
  readonly admin: DynamoDBClient;
  readonly kinesis: KinesisClient;
  /** Command names the client under test sent, in order (e.g. 'GetItemCommand'). */
  readonly requests: string[];
  fault?: DynamoDbFault;
  newTable(): Promise<string>;
  newStream(shardCount?: number): Promise<TestStream>;
  /** Handler options for a test: this harness's clients and table, metrics off, then `extra`. */
  options(tableName: string, extra?: KclOptions): KclOptions;
  row(tableName: string, shardId: string): Promise<Record<string, AttributeValue> | undefined>;
  putRow(tableName: string, item: Record<string, AttributeValue>): Promise<void>;
  close(): Promise<void>;
}

let tableCounter = 0;

export async function startRuntimeHarness(): Promise<RuntimeHarness> {
  const [dynalite, kinesalite]: RunningEmulator[] = await Promise.all([startDynalite(), startKinesalite()]);
  const dynamoDb = localDynamoDbClient(dynalite.endpoint);
  const admin = localDynamoDbClient(dynalite.endpoint);
  const kinesis = localKinesisClient(kinesalite.endpoint);
  const harness: RuntimeHarness = {
    dynamoDbEndpoint: dynalite.endpoint,
    kinesisEndpoint: kinesalite.endpoint,
    dynamoDb,
    admin,
    kinesis,
    requests: [],
    async newTable() {
      tableCounter += 1;
      const tableName = `kcl-test-${tableCounter}`;
      // The local runner's own table setup waits until ACTIVE: under load dynalite's
      // "ACTIVE at once" still lands a tick after the CreateTable answer.
      await ensureCheckpointTable(admin, tableName);
      return tableName;
    },
    async newStream(shardCount = 1) {
      const streamName = uniqueStreamName('kcl');
      const streamArn = await createStream(kinesis, streamName, shardCount);
      const shardIds = (await listShards(kinesis, streamName)).map((shard) => shard.ShardId ?? '');
      return { streamName, streamArn, shardIds };
    },
    options(tableName, extra = {}) {
      return { tableName, dynamoDb, kinesis, metrics: false, ...extra };
    },
    async row(tableName, shardId) {
      const { Item } = await admin.send(
        new GetItemCommand({ TableName: tableName, Key: { leaseKey: { S: shardId } }, ConsistentRead: true }),
      );
      return Item;
    },
    async putRow(tableName, item) {
      await admin.send(new PutItemCommand({ TableName: tableName, Item: item }));
    },
    async close() {
      dynamoDb.destroy();
      admin.destroy();
      kinesis.destroy();
      await Promise.all([dynalite.close(), kinesalite.close()]);
    },
  };
  dynamoDb.middlewareStack.add(
    (next, context) => async (args) => {
      const commandName = String(context.commandName);
      harness.requests.push(commandName);
      const fault = harness.fault?.(commandName, args.input as Record<string, unknown>);
      if (fault) await fault();
      return next(args);
    },
    // After retries would be too slow for tests; at initialize a thrown fault is final,
    // exactly like a fault the SDK has already retried to exhaustion.
    { step: 'initialize', name: 'testFaultInjection' },
  );
  return harness;
}

/** An AWS SDK error as the client would raise it after its retries. */
export function awsError(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  Object.assign(error, { $fault: 'client', $metadata: {} });
  return error;
}

export interface SyntheticRecord {
  readonly sequenceNumber: string;
  readonly data?: string | Buffer;
  readonly partitionKey?: string;
  readonly arrival?: Date;
}

/** A Lambda Kinesis event for one shard with chosen sequence numbers and payloads. */
export function kinesisEvent(streamArn: string, shardId: string, records: readonly SyntheticRecord[]): KinesisStreamEvent {
  return {
    Records: records.map((record) => ({
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${record.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: record.partitionKey ?? 'pk',
        sequenceNumber: record.sequenceNumber,
        data: Buffer.from(record.data ?? `payload-${record.sequenceNumber}`).toString('base64'),
        approximateArrivalTimestamp: (record.arrival ?? new Date()).getTime() / 1000,
      },
    })),
  };
}

/** Sequence numbers like Kinesis gives them: 56 digits, increasing by `step`. */
export function sequenceNumbers(count: number, start = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n, step = 1_000n): string[] {
  return Array.from({ length: count }, (_, index) => (start + BigInt(index) * step).toString());
}

/** A Lambda context whose clock runs out after `remainingMillis`. */
export function lambdaContext(remainingMillis: number): Context {
  const deadline = Date.now() + remainingMillis;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'kcl-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:kcl-test',
    memoryLimitInMB: '128',
    awsRequestId: 'test-request',
    logGroupName: '/aws/lambda/kcl-test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A logger that keeps what it is told, for assertions (and keeps test output quiet). */
export function memoryLogger() {
  const lines: { level: string; message: string; extra: unknown[] }[] = [];
  const at = (level: string) => (message: string, ...extra: unknown[]) => void lines.push({ level, message, extra });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
