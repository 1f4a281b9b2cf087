import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * The default DynamoDB client: region, credentials and `AWS_ENDPOINT_URL_DYNAMODB`
 * come from the standard AWS environment.
 */
export function defaultDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({});
}

/**
 * The default Kinesis client. The v3 Kinesis client defaults to HTTP/2 (for
 * SubscribeToShard); the calls made here are plain request/response, and HTTP/1.1
 * works against AWS and against emulators that cannot speak HTTP/2 alike.
 * `AWS_ENDPOINT_URL_KINESIS` is honoured by the SDK.
 */
export function defaultKinesisClient(): KinesisClient {
  return new KinesisClient({ requestHandler: new NodeHttpHandler() });
}
