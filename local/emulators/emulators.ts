import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

// Both emulators are CommonJS without type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite: (options: Record<string, unknown>) => Server = require('dynalite');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kinesalite: (options: Record<string, unknown>) => Server = require('kinesalite');

export const LOCAL_REGION = 'us-east-1';
/** Emulators accept any credentials; fixed ones keep the SDK from searching the machine. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** A running emulator: its endpoint and how to stop it. */
export interface RunningEmulator {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite in memory on 127.0.0.1 with an ephemeral port; tables become ACTIVE at once. */
export function startDynalite(): Promise<RunningEmulator> {
  return listen(dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }));
}

/** Starts kinesalite in memory on 127.0.0.1 with an ephemeral port; streams and reshards are ACTIVE at once. */
export function startKinesalite(): Promise<RunningEmulator> {
  return listen(kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 }));
}

/** A DynamoDB client for an emulator endpoint. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/** A Kinesis client for an emulator endpoint; HTTP/1.1 because kinesalite cannot speak HTTP/2. */
export function localKinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler(),
  });
}

function listen(server: Server): Promise<RunningEmulator> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
