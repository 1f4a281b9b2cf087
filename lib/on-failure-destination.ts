import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** Where Lambda sends the metadata of records it discards. */
export type OnFailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket;

/** The mapping's on-failure destination, and the queue when it is one. */
export interface ResolvedOnFailureDestination {
  readonly destination?: lambda.IEventSourceDlq;
  readonly queue?: sqs.IQueue;
}

/**
 * The destination the construct wires: the given queue, topic or bucket, none
 * for `false`, or a new encrypted SSL-only queue by default.
 */
export function resolveOnFailureDestination(
  scope: Construct,
  onFailure: OnFailureDestination | false | undefined,
): ResolvedOnFailureDestination {
  if (onFailure === false) return {};
  if (onFailure === undefined) {
    const queue = new sqs.Queue(scope, 'OnFailureQueue', {
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    return { destination: new eventSources.SqsDlq(queue), queue };
  }
  if ('queueArn' in onFailure) return { destination: new eventSources.SqsDlq(onFailure), queue: onFailure };
  if ('topicArn' in onFailure) return { destination: new eventSources.SnsDlq(onFailure) };
  return { destination: new eventSources.S3OnFailureDestination(onFailure) };
}
