import * as path from 'path';
import { App, Stack, type StackProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KclConsumer, type KclConsumerProps } from '../../lib';

/** A tiny handler file for constructs that build their own NodejsFunction. */
export const ECHO_HANDLER_ENTRY = path.join(__dirname, 'fixtures', 'echo-handler.ts');

/**
 * An app that skips asset bundling: fine-grained template tests look at
 * properties, not code, and esbuild per synth would cost seconds.
 */
export function appWithoutBundling(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

export function inlineFunction(stack: Stack, id = 'Processor'): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
  });
}

export interface Synthesized {
  stack: Stack;
  consumer: KclConsumer;
  template: Template;
}

/**
 * One stack with one consumer. `props` may depend on the stack (for resources
 * the test passes in); without `function`/`functionProps` the consumer builds
 * its function from the echo handler.
 */
export function synthesizeConsumer(
  props: (stack: Stack) => Partial<KclConsumerProps> = () => ({}),
  stackProps?: StackProps,
): Synthesized {
  const stack = new Stack(appWithoutBundling(), 'Test', stackProps);
  const given = props(stack);
  const functionChoice: Partial<KclConsumerProps> =
    given.function || given.functionProps ? {} : { functionProps: { entry: ECHO_HANDLER_ENTRY } };
  const consumer = new KclConsumer(stack, 'Consumer', { ...functionChoice, ...given });
  return { stack, consumer, template: Template.fromStack(stack) };
}

/** The statements of every IAM policy attached to the role of the consumer's function. */
export function functionPolicyStatements(synthesized: Synthesized): unknown[] {
  const roleLogicalId = synthesized.stack.getLogicalId(
    synthesized.consumer.function.role!.node.defaultChild as import('aws-cdk-lib').CfnElement,
  );
  const policies = synthesized.template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as unknown[]);
}

/** `{ 'Fn::GetAtt': [logicalId of construct, attribute] }` for a construct's CFN resource. */
export function getAtt(stack: Stack, construct: { node: { defaultChild?: unknown } }, attribute: string) {
  return {
    'Fn::GetAtt': [stack.getLogicalId(construct.node.defaultChild as import('aws-cdk-lib').CfnElement), attribute],
  };
}

export function ref(stack: Stack, construct: { node: { defaultChild?: unknown } }) {
  return { Ref: stack.getLogicalId(construct.node.defaultChild as import('aws-cdk-lib').CfnElement) };
}

/** The dashboard body with every token replaced by the text TOKEN, parsed. */
export function dashboardBody(template: Template): { widgets: Array<Record<string, any>> } {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  if (dashboards.length !== 1) throw new Error(`expected one dashboard, found ${dashboards.length}`);
  const body = dashboards[0].Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return JSON.parse(text);
}
