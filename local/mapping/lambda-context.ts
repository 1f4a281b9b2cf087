import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { Clock } from './clock';
import { systemClock } from './clock';
import { LOCAL_REGION } from '../emulators/emulators';

/** The account id kinesalite puts in its ARNs; the local function lives there too. */
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface LambdaContextOptions {
  readonly functionName: string;
  readonly timeoutMs: number;
  /** Start of the invocation; the deadline is `startedAt + timeoutMs`. */
  readonly startedAt?: number;
  readonly clock?: Clock;
  readonly region?: string;
  readonly memoryLimitInMB?: number;
  readonly awsRequestId?: string;
}

export function functionArn(functionName: string, region = LOCAL_REGION): string {
  return `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;
}

/**
 * A Lambda `Context` for one invocation. `getRemainingTimeInMillis` counts down
 * from the function timeout on the given clock, as the real one does, so a
 * handler's timeout guard sees the same budget locally as in AWS.
 */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const clock = options.clock ?? systemClock;
  const deadline = (options.startedAt ?? clock.now()) + options.timeoutMs;
  const today = new Date(clock.now()).toISOString().slice(0, 10).replace(/-/g, '/');
  const callbackStyle = (): never => {
    throw new Error('context.done/fail/succeed are not supported by the local runner: return a promise from the handler.');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(options.functionName, options.region),
    memoryLimitInMB: String(options.memoryLimitInMB ?? 128),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${today}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()),
    done: callbackStyle,
    fail: callbackStyle,
    succeed: callbackStyle,
  };
}
