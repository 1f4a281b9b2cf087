import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * What Lambda's Kinesis event source mapping documents it needs on the stream,
 * which also covers the runtime's own calls (ListShards, GetShardIterator and
 * GetRecords to check that a parent shard is drained). Not CDK's `grantRead`:
 * it adds ListStreams (an account-wide listing the mapping does not need) and,
 * without enhanced fan-out, SubscribeToShard and DescribeStreamConsumer.
 */
export const STREAM_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];

/** With enhanced fan-out, on the stream consumer: the mapping subscribes through it. */
export const STREAM_CONSUMER_ACTIONS = ['kinesis:DescribeStreamConsumer', 'kinesis:SubscribeToShard'];

/** Grants the function the stream reads of the mapping and the runtime, and decrypt on a customer key. */
export function grantMappingRead(
  fn: lambda.IFunction,
  stream: kinesis.IStream,
  streamConsumer?: kinesis.IStreamConsumer,
): void {
  iam.Grant.addToPrincipal({ grantee: fn, actions: STREAM_READ_ACTIONS, resourceArns: [stream.streamArn] });
  if (streamConsumer) {
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: STREAM_CONSUMER_ACTIONS,
      resourceArns: [streamConsumer.streamConsumerArn],
    });
  }
  stream.encryptionKey?.grantDecrypt(fn);
}
