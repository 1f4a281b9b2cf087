import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

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
 * Where Lambda sends the metadata of the batches it discards (retries or
 * `maxRecordAge` exhausted): a queue, a topic, a bucket, or nowhere. Each
 * destination grants the function's role only what Lambda's documentation lists
 * for its type: `sqs:SendMessage`, `sns:Publish`, or `s3:PutObject` on the
 * objects and `s3:ListBucket` on the bucket; with a customer key
 * `kms:GenerateDataKey` (and `kms:Decrypt` for SQS and SNS).
 */
export class OnFailureDestination {
  /**
   * An SQS queue. Without `queue`, a new one the construct creates (the default):
   * KMS-managed encryption (`alias/aws/sqs`), SSL only, 14-day retention, exposed
   * as `KclConsumer.onFailureQueue`.
   */
  public static queue(queue?: sqs.IQueue): OnFailureDestination {
    return new OnFailureDestination((scope) => {
      if (queue) return { destination: queueDestination(queue), kind: OnFailureDestinationKind.QUEUE, queue };
      const own = new sqs.Queue(scope, 'OnFailureQueue', {
        encryption: sqs.QueueEncryption.KMS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      return { destination: queueDestination(own), kind: OnFailureDestinationKind.QUEUE, queue: own, ownQueue: true };
    });
  }

  /** An SNS topic. */
  public static topic(topic: sns.ITopic): OnFailureDestination {
    return new OnFailureDestination(() => ({
      destination: new LeastPrivilegeDestination(
        topic.topicArn,
        [{ actions: ['sns:Publish'], resources: [topic.topicArn] }],
        topic.masterKey,
        ['kms:Decrypt', 'kms:GenerateDataKey'],
      ),
      kind: OnFailureDestinationKind.TOPIC,
    }));
  }

  /** An S3 bucket; it also receives the batch's records, not only their positions. */
  public static bucket(bucket: s3.IBucket): OnFailureDestination {
    return new OnFailureDestination(() => ({
      destination: new LeastPrivilegeDestination(
        bucket.bucketArn,
        [
          { actions: ['s3:PutObject'], resources: [bucket.arnForObjects('*')] },
          { actions: ['s3:ListBucket'], resources: [bucket.bucketArn] },
        ],
        bucket.encryptionKey,
        ['kms:GenerateDataKey'],
      ),
      kind: OnFailureDestinationKind.BUCKET,
      bucket,
    }));
  }

  /**
   * No destination: discarded records are named nowhere, and only the mapping's
   * DroppedEventCount (and its alarm, with `alarms` on) records them.
   */
  public static none(): OnFailureDestination {
    return new OnFailureDestination(() => ({}));
  }

  private constructor(private readonly resolve: (scope: Construct) => ResolvedOnFailureDestination) {}

  /**
   * Creates what the destination needs (the default queue) in `scope`, the consumer.
   * @internal
   */
  public _bind(scope: Construct): ResolvedOnFailureDestination {
    return this.resolve(scope);
  }
}

/** The destination the construct wires: the given one, or by default its own queue. */
export function resolveOnFailureDestination(
  scope: Construct,
  onFailure: OnFailureDestination | undefined,
): ResolvedOnFailureDestination {
  return (onFailure ?? OnFailureDestination.queue())._bind(scope);
}

/** Whether `value` is an `OnFailureDestination`, also from another copy of this package. */
export function isOnFailureDestination(value: unknown): value is OnFailureDestination {
  return typeof (value as { _bind?: unknown } | null)?._bind === 'function';
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
