/**
 * Faults and observation on the real DynamoDB client, by middleware (the client
 * is wrapped, never replaced): each request the runtime sends in a history is
 * numbered; the chosen ones are throttled, fail, or reach dynalite and then lose
 * their response. Every write dynalite applies and every conditional write it
 * refuses is logged. Which history, invocation and container a request belongs to
 * is carried by AsyncLocalStorage, so a late request of an earlier history can
 * never be counted in the next one, and a frozen or killed container's requests
 * wait or never return.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SHARD_END, type ExtendedSequenceNumber } from '../../lambda/records/sequence-number';
import type { Container } from './container';
import type { DynamoDbFaultKind } from './history';
import type { ObservationLog } from './observation-log';

/** The DynamoDB side of one history: its table, its fault plan, its request counter. */
export class DynamoDbFaultPlan {
  private requests = 0;
  private readonly byRequest: ReadonlyMap<number, DynamoDbFaultKind>;
  /** Faults actually injected, as `#n kind Command`. */
  readonly injected: string[] = [];

  constructor(
    readonly tableName: string,
    faults: readonly { call: number; kind: DynamoDbFaultKind }[],
    readonly log: ObservationLog,
  ) {
    this.byRequest = new Map(faults.map((fault) => [fault.call, fault.kind]));
  }

  /** Numbers the next request and says which fault, if any, it gets. */
  next(commandName: string): DynamoDbFaultKind | undefined {
    const index = this.requests++;
    const fault = this.byRequest.get(index);
    if (fault) this.injected.push(`#${index} ${fault} ${commandName}`);
    return fault;
  }

  get requestCount(): number {
    return this.requests;
  }
}

/** What the code running inside one invocation (one container's handler call) belongs to. */
export interface InvocationScope {
  readonly invocation: number;
  /** The container: its requests wait while it is frozen and never return once it is killed. */
  readonly container: Container;
  readonly faults: DynamoDbFaultPlan;
  /**
   * The container is killed at its first checkpoint write: before the write is sent
   * (`beforeSend`), or with the write sent, so that it lands and no answer comes (`afterSend`).
   */
  killAtFirstWrite?: 'beforeSend' | 'afterSend';
}

export const invocationScope = new AsyncLocalStorage<InvocationScope>();

/** An AWS SDK error as the client raises it once its own retries are spent. */
export function awsError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  Object.assign(error, { $fault: name === 'ProvisionedThroughputExceededException' ? 'client' : 'server', $metadata: {} });
  return error;
}

/**
 * Adds the fault and observation middleware to a client. It sits at the
 * `initialize` step, above the SDK's retries: an injected fault is final, like
 * one the SDK has already retried to exhaustion, and what it sees of a real
 * response is the final outcome.
 */
export function injectDynamoDbFaults(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const scope = invocationScope.getStore();
      const input = args.input as Record<string, unknown>;
      if (!scope || input.TableName !== scope.faults.tableName) return next(args);
      const commandName = String(context.commandName);
      const container = scope.container;
      // A frozen container sends nothing until it is next invoked; a dead one never.
      await container.running();
      let killAfterSend = false;
      if (scope.killAtFirstWrite && commandName !== 'GetItemCommand') {
        killAfterSend = scope.killAtFirstWrite === 'afterSend';
        scope.killAtFirstWrite = undefined;
        if (!killAfterSend) {
          container.kill('at its checkpoint write, before sending it');
          await container.running();
        }
      }
      const fault = scope.faults.next(commandName);
      if (fault === 'throttle') {
        throw awsError('ProvisionedThroughputExceededException', `injected: ${commandName} throttled`);
      }
      if (fault === 'internalError') throw awsError('InternalServerError', `injected: ${commandName} failed`);
      let output;
      try {
        output = await next(args);
      } catch (error) {
        if (error instanceof Error && error.name === 'ConditionalCheckFailedException') {
          scope.faults.log.add({ kind: 'conditionalWriteLost', shardId: shardOf(input), container: container.id });
        }
        if (killAfterSend) container.kill('with its checkpoint write in flight');
        // An error, too, reaches a frozen container when it thaws, a dead one never.
        await container.running();
        throw error;
      }
      const written = appliedWrite(commandName, input);
      if (written) scope.faults.log.add({ kind: 'checkpointWritten', ...written });
      if (killAfterSend) container.kill('with its checkpoint write in flight (the write landed)');
      // The answer reaches a frozen container when it thaws, a dead one never.
      await container.running();
      if (fault === 'lostResponse') {
        throw awsError('TimeoutError', `injected: the response to ${commandName} was lost (the request reached the table)`);
      }
      return output;
    },
    { step: 'initialize', name: 'propertyTestFaults' },
  );
}

type AttributeMap = Record<string, { S?: string; N?: string } | undefined>;

function shardOf(input: Record<string, unknown>): string {
  const key = (input.Key ?? input.Item) as AttributeMap | undefined;
  return key?.leaseKey?.S ?? '?';
}

/** The lease a successful PutItem/UpdateItem left in the table. */
function appliedWrite(
  commandName: string,
  input: Record<string, unknown>,
): { shardId: string; checkpoint: ExtendedSequenceNumber; leaseCounter: number } | undefined {
  if (commandName === 'PutItemCommand') {
    const item = input.Item as AttributeMap;
    return {
      shardId: shardOf(input),
      checkpoint: position(item.checkpoint?.S, item.checkpointSubSequenceNumber?.N),
      leaseCounter: Number(item.leaseCounter?.N),
    };
  }
  if (commandName === 'UpdateItemCommand') {
    const values = input.ExpressionAttributeValues as AttributeMap;
    return {
      shardId: shardOf(input),
      checkpoint: position(values[':checkpoint']?.S, values[':sub']?.N),
      leaseCounter: Number(values[':next']?.N),
    };
  }
  return undefined;
}

function position(sequenceNumber: string | undefined, sub: string | undefined): ExtendedSequenceNumber {
  if (sequenceNumber === undefined) throw new Error('a checkpoint write without a checkpoint attribute');
  return { sequenceNumber, subSequenceNumber: sequenceNumber === SHARD_END ? 0 : Number(sub ?? '0') };
}
