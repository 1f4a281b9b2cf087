import { createRequire } from 'node:module';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { KclConfigurationError } from '../errors';

/**
 * The default DynamoDB client: region, credentials and `AWS_ENDPOINT_URL_DYNAMODB`
 * come from the standard AWS environment.
 */
export function defaultDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({});
}

type KinesisModule = typeof import('@aws-sdk/client-kinesis');
type NodeHttpHandlerModule = typeof import('@smithy/node-http-handler');

/**
 * The Kinesis SDK, loaded on first use: only a shard's first batch needs it (for
 * shard lineage), so most containers never pay for loading it at cold start.
 * `require`, not `import()`: Lambda provides the SDK through NODE_PATH, which only
 * CommonJS resolution reads (an ESM bundle gets `require` from the construct's banner).
 */
export async function loadKinesisModule(): Promise<KinesisModule> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-kinesis') as KinesisModule;
}

/**
 * `@smithy/node-http-handler`. The construct's bundle contains it, since the Lambda
 * runtime does not make `@smithy/*` importable from function code. A bundle that left
 * it external (e.g. a `NodejsFunction` with the CDK's default externals) gets the copy
 * the runtime's Kinesis client itself depends on, resolved from that client's folder.
 */
export function loadNodeHttpHandler(): NodeHttpHandlerModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@smithy/node-http-handler') as NodeHttpHandlerModule;
  } catch (error) {
    if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') throw error;
    // A name, not a literal: bundlers leave a computed require.resolve alone (and quiet).
    const kinesisClient = ['@aws-sdk', 'client-kinesis'].join('/');
    try {
      const fromKinesisClient = createRequire(require.resolve(kinesisClient));
      return fromKinesisClient('@smithy/node-http-handler') as NodeHttpHandlerModule;
    } catch {
      throw new KclConfigurationError(
        '@smithy/node-http-handler (the Kinesis client\'s HTTP/1.1 handler) is neither in the function bundle nor ' +
          'resolvable from @aws-sdk/client-kinesis: bundle it (KclConsumer does; the Lambda runtime does not provide @smithy/* packages).',
      );
    }
  }
}

/**
 * The default Kinesis client. The v3 Kinesis client defaults to HTTP/2 (for
 * SubscribeToShard); the calls made here are plain request/response, and HTTP/1.1
 * works against AWS and against emulators that cannot speak HTTP/2 alike.
 * `AWS_ENDPOINT_URL_KINESIS` is honoured by the SDK.
 */
export async function defaultKinesisClient(): Promise<KinesisClient> {
  const { KinesisClient } = await loadKinesisModule();
  const { NodeHttpHandler } = loadNodeHttpHandler();
  return new KinesisClient({ requestHandler: new NodeHttpHandler() });
}
