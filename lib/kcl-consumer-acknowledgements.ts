import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/**
 * What the construct created itself; it acknowledges findings only on these,
 * never on a resource the user passed in.
 */
export interface OwnResources {
  /** The function, when the construct built it (not a given `function`). */
  readonly function?: lambda.Function;
  /** The role, when the construct created it (not `functionProps.role`). */
  readonly role?: iam.IRole;
  /** The log group, when the construct created it. */
  readonly logGroup?: logs.ILogGroupRef;
  /** The on-failure queue, when the construct created it. */
  readonly onFailureQueue?: sqs.IQueue;
  /** Whether the log group has a customer key (`logGroupEncryptionKey`). */
  readonly logGroupEncrypted: boolean;
  /** The built function's opt-ins, from `functionProps`. */
  readonly tracing: boolean;
  readonly reservedConcurrency: boolean;
  readonly vpc: boolean;
  /** The mapping, when the user chose no on-failure destination and kept the alarms. */
  readonly mappingWithoutDestination?: lambda.IEventSourceMapping;
  /** The on-failure bucket, whose objects the role may put. */
  readonly onFailureBucket?: s3.IBucket;
}

/** The rule ids of one finding, across the packs that report it. */
const ids = (...rules: string[]) => rules;

const DLQ_REASON =
  'A function dead-letter queue receives only failed asynchronous invocations. The event source mapping invokes ' +
  'this function synchronously; discarded batches go to the mapping\'s on-failure destination and are alarmed on ' +
  '(DroppedEventCount, OnFailureDestinationDeliveredEventCount), so a function DLQ would never receive a message.';

/**
 * cdk-nag findings on the construct's own resources that are decisions, not
 * gaps, each acknowledged with the reason, so that an app running the packs
 * has nothing of the construct's to acknowledge itself. Findings an opt-in
 * prop would fix are acknowledged only while that prop is off.
 */
export function acknowledgeOwnFindings(own: OwnResources): void {
  if (own.onFailureQueue) {
    Validations.of(own.onFailureQueue).acknowledge(
      ...ids('AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy').map((id) => ({
        id,
        reason:
          'This queue is the dead-letter destination itself: Lambda writes the metadata of discarded batches here ' +
          'for an operator to read; no consumer receives from it, so a redrive queue would never fill.',
      })),
    );
  }
  const fn = own.function;
  if (fn) {
    const acknowledge = (rules: string[], reason: string) =>
      Validations.of(fn).acknowledge(...rules.map((id) => ({ id, reason })));
    acknowledge(ids('Serverless-LambdaDLQ', 'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ'), DLQ_REASON);
    if (!own.tracing) {
      acknowledge(
        ids('Serverless-LambdaTracing'),
        'X-Ray tracing is an opt-in (functionProps.tracing: Tracing.ACTIVE): every batch already reports its ' +
          'outcome in the runtime\'s metrics and JSON logs, and a trace per invocation is a cost per poll with records.',
      );
    }
    if (!own.reservedConcurrency) {
      acknowledge(
        ids('NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency'),
        'The event source mapping bounds concurrency itself: one invocation per shard at a time (parallelizationFactor ' +
          'is fixed at 1). A reservation below the shard count would throttle shards; reserve with ' +
          'functionProps.reservedConcurrentExecutions (at least the shard count).',
      );
    }
    if (!own.vpc) {
      acknowledge(
        ids('NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC'),
        'The function serves no network endpoint and calls only AWS APIs (Kinesis, DynamoDB, CloudWatch Logs) over ' +
          'TLS, authorized by IAM. A VPC is an opt-in (functionProps.vpc) and then needs VPC endpoints or NAT.',
      );
    }
  }
  if (own.role) {
    Validations.of(own.role).acknowledge(
      ...ids('NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy').map(
        (id) => ({
          id,
          reason:
            'The policy belongs to this one role, is created and deleted with it, and names exact actions on the ' +
            "consumer's own stream, table and destination (tested statement by statement); a managed policy would be " +
            'a second resource to keep in step without narrowing any permission.',
        }),
      ),
    );
  }
  if (own.role && own.onFailureBucket) {
    Validations.of(own.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(own.role, own.onFailureBucket.arnForObjects('*'))}]`,
      reason:
        'Lambda names the objects of on-failure records itself; what it documents for an S3 destination is ' +
        's3:PutObject on the bucket\'s objects (and s3:ListBucket on the bucket), with no read, delete or ACL action.',
    });
  }
  if (own.mappingWithoutDestination) {
    Validations.of(own.mappingWithoutDestination).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'The app chose OnFailureDestination.none(). Every discard still raises the DroppedEventCount alarm; only the ' +
        'on-failure record naming the shard and sequence numbers is given up.',
    });
  }
  if (own.logGroup && !own.logGroupEncrypted) {
    Validations.of(own.logGroup).acknowledge(
      ...ids(
        'NIST.800.53.R5-CloudWatchLogGroupEncrypted',
        'HIPAA.Security-CloudWatchLogGroupEncrypted',
        'PCI.DSS.321-CloudWatchLogGroupEncrypted',
      ).map((id) => ({
        id,
        reason:
          'CloudWatch Logs encrypts log data at rest with service-managed keys. A customer key is an opt-in ' +
          '(logGroupEncryptionKey); the runtime logs record positions and errors, not record data.',
      })),
    );
  }
}

/**
 * A resource as cdk-nag names it in a finding: a reference `<LogicalId>`, an
 * attribute `<LogicalId.Attribute>`, literals as they are.
 */
function nagResource(scope: iam.IRole, arn: string): string {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const token = value as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
    if (token.Ref) return `<${token.Ref}>`;
    if (token['Fn::GetAtt']) return `<${token['Fn::GetAtt'][0]}.${token['Fn::GetAtt'][1]}>`;
    if (token['Fn::Join']) return token['Fn::Join'][1].map(render).join(token['Fn::Join'][0]);
    return JSON.stringify(value);
  };
  return render(Stack.of(scope).resolve(arn));
}
