import * as path from 'path';
import { App, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { KclConsumer } from '../lib';

/** The example stack: the counting processor from examples/ behind a KclConsumer. */
export function createExampleApp(): { app: App; stack: Stack; consumer: KclConsumer } {
  const app = new App();
  // Environment-agnostic: synthesizes offline, deploys to the CLI's account and region.
  const stack = new Stack(app, 'KclLambdaExample', {
    description: 'kcl-lambda example: a KCL record processor on Lambda with a checkpoint table',
  });
  const alarms = alarmTopic(stack);
  const consumer = new KclConsumer(stack, 'Consumer', {
    functionProps: {
      entry: path.join(__dirname, '..', 'examples', 'handler.ts'),
      description: 'kcl-lambda example: counting record processor',
    },
    dashboard: true,
    millisBehindLatestAlarm: Duration.minutes(10),
    alarmAction: alarms,
  });

  // What an operator needs after `cdk deploy`: where to put records and where to look.
  new CfnOutput(stack, 'StreamName', { value: consumer.stream.streamName });
  new CfnOutput(stack, 'CheckpointTableName', { value: consumer.checkpointTable.tableName });
  new CfnOutput(stack, 'FunctionName', { value: consumer.function.functionName });
  new CfnOutput(stack, 'AlarmTopicArn', { value: alarms.topicArn });
  if (consumer.onFailureQueue) {
    new CfnOutput(stack, 'OnFailureQueueUrl', { value: consumer.onFailureQueue.queueUrl });
  }

  // Synthesis fails on any finding. The construct acknowledges its own reasoned
  // findings, so the app needs no acknowledgement of its own.
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app),
    new ServerlessChecks(app),
    new NIST80053R5Checks(app),
    new HIPAASecurityChecks(app),
    new PCIDSS321Checks(app),
  );
  return { app, stack, consumer };
}

/**
 * Where the alarms go: subscribe an email address or a chat integration after
 * deploying. Encrypted with a key of its own, since CloudWatch cannot publish
 * to a topic under the AWS-managed SNS key (its policy cannot name CloudWatch).
 */
function alarmTopic(stack: Stack): sns.ITopic {
  const key = new kms.Key(stack, 'AlarmTopicKey', {
    description: 'kcl-lambda example: encrypts the alarm topic',
    enableKeyRotation: true,
  });
  key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  return new sns.Topic(stack, 'AlarmTopic', { masterKey: key, enforceSSL: true });
}

if (require.main === module) {
  createExampleApp().app.synth();
}
