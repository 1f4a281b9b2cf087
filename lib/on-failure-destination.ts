import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** Where Lambda sends the metadata of records it discards. */
export type OnFailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket;

/** The kind of on-failure destination, for alarm texts and acknowledgements. */
export enum OnFailureDestinationKind {
  QUEUE = 'queue',
  TOPIC = 'topic',
  BUCKET = 'bucket',
}

/** The mapping's on-failure destination, and the queue when it is one. */
export interface ResolvedOnFailureDestination {
  readonly destination?: lambda.IEventSourceDlq;
  readonly kind?: OnFailureDestinationKind;
  readonly queue?: sqs.IQueue;
  /** True when the construct created the queue itself. */
  readonly ownQueue?: boolean;
  /** The bucket, when the destination is one. */
  readonly bucket?: s3.IBucket;
}

/**
 * An on-failure destination that grants the function's role only what Lambda
 * documents it needs to deliver to that destination (CDK's own destination
 * classes grant more: `S3OnFailureDestination` grants read, write and delete).
 */
class LeastPrivilegeDestination implements lambda.IEventSourceDlq {
  constructor(
    private readonly arn: string,
    private readonly statements: ReadonlyArray<{ actions: string[]; resources: string[] }>,
    private readonly key: kms.IKey | undefined,
    private readonly keyActions: string[],
  ) {}

  public bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    for (const { actions, resources } of this.statements) {
      iam.Grant.addToPrincipal({ grantee: targetHandler, actions, resourceArns: resources });
    }
    // A customer key on the destination must let the role encrypt what Lambda sends.
    if (this.key) iam.Grant.addToPrincipal({ grantee: targetHandler, actions: this.keyActions, resourceArns: [this.key.keyArn] });
    return { destination: this.arn };
  }
}

/**
 * The destination the construct wires: the given queue, topic or bucket, none
 * for `false`, or a new encrypted SSL-only queue by default. Each grants what
 * Lambda's documentation lists for that destination type: `sqs:SendMessage`,
 * `sns:Publish`, or `s3:PutObject` on the objects and `s3:ListBucket` on the
 * bucket; with a customer key `kms:GenerateDataKey` (and `kms:Decrypt` for SQS
 * and SNS).
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
    return { destination: queueDestination(queue), kind: OnFailureDestinationKind.QUEUE, queue, ownQueue: true };
  }
  if ('queueArn' in onFailure) {
    return { destination: queueDestination(onFailure), kind: OnFailureDestinationKind.QUEUE, queue: onFailure };
  }
  if ('topicArn' in onFailure) {
    return {
      destination: new LeastPrivilegeDestination(
        onFailure.topicArn,
        [{ actions: ['sns:Publish'], resources: [onFailure.topicArn] }],
        onFailure.masterKey,
        ['kms:Decrypt', 'kms:GenerateDataKey'],
      ),
      kind: OnFailureDestinationKind.TOPIC,
    };
  }
  return {
    destination: new LeastPrivilegeDestination(
      onFailure.bucketArn,
      [
        { actions: ['s3:PutObject'], resources: [onFailure.arnForObjects('*')] },
        { actions: ['s3:ListBucket'], resources: [onFailure.bucketArn] },
      ],
      onFailure.encryptionKey,
      ['kms:GenerateDataKey'],
    ),
    kind: OnFailureDestinationKind.BUCKET,
    bucket: onFailure,
  };
}

function queueDestination(queue: sqs.IQueue): lambda.IEventSourceDlq {
  // An AWS-managed key (alias/aws/sqs) needs no grant; a customer key does.
  return new LeastPrivilegeDestination(
    queue.queueArn,
    [{ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }],
    queue.encryptionMasterKey,
    ['kms:Decrypt', 'kms:GenerateDataKey'],
  );
}
