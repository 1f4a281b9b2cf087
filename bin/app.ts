import * as path from 'path';
import { App, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KclConsumer } from '../lib';

/** The example stack: the counting processor from examples/ behind a KclConsumer. */
export function createExampleApp(): { app: App; stack: Stack; consumer: KclConsumer } {
  const app = new App();
  // Environment-agnostic: synthesizes offline, deploys to the CLI's account and region.
  const stack = new Stack(app, 'KclLambdaExample', {
    description: 'kcl-lambda example: a KCL record processor on Lambda with a checkpoint table',
  });
  const consumer = new KclConsumer(stack, 'Consumer', {
    functionProps: {
      entry: path.join(__dirname, '..', 'examples', 'handler.ts'),
      description: 'kcl-lambda example: counting record processor',
    },
    dashboard: true,
    millisBehindLatestAlarm: Duration.minutes(10),
  });

  // What an operator needs after `cdk deploy`: where to put records and where to look.
  new CfnOutput(stack, 'StreamName', { value: consumer.stream.streamName });
  new CfnOutput(stack, 'CheckpointTableName', { value: consumer.checkpointTable.tableName });
  new CfnOutput(stack, 'FunctionName', { value: consumer.function.functionName });
  if (consumer.onFailureQueue) {
    new CfnOutput(stack, 'OnFailureQueueUrl', { value: consumer.onFailureQueue.queueUrl });
  }

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  if (consumer.onFailureQueue) {
    Validations.of(consumer.onFailureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter destination itself: Lambda writes the metadata of discarded ' +
        'batches here for an operator to read; no consumer receives from it, so a redrive queue would never fill.',
    });
  }
  return { app, stack, consumer };
}

if (require.main === module) {
  createExampleApp().app.synth();
}
