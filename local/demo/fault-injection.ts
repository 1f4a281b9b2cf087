import type { KinesisStreamBatchItemFailure, KinesisStreamEvent } from 'aws-lambda';
import type { KinesisUserRecord, RecordProcessor, RecordProcessorFactory } from '../../lambda';
import type { KinesisBatchHandler } from '../mapping/event-source-mapping';

/** A failure the local runner injected on purpose; the processor did nothing wrong. */
export class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

export interface FaultPlanOptions {
  /** Payloads (UTF-8 data) that fail on their first delivery. */
  readonly failOncePayloads?: Iterable<string>;
  /** Chance that any other record fails on its first delivery. @default 0 */
  readonly failRate?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

/**
 * Decides, once per record, whether its first delivery fails. A record is never
 * failed twice, so every record is eventually processed and retries stay bounded.
 */
export class FaultPlan {
  private readonly failOnce: Set<string>;
  private readonly decided = new Set<string>();
  private readonly failRate: number;
  private readonly random: () => number;
  /** Failures injected so far. */
  injected = 0;

  constructor(options: FaultPlanOptions = {}) {
    this.failOnce = new Set(options.failOncePayloads ?? []);
    this.failRate = options.failRate ?? 0;
    this.random = options.random ?? Math.random;
    if (!(this.failRate >= 0 && this.failRate < 1)) throw new RangeError(`failRate must be in [0, 1), got ${this.failRate}`);
  }

  /** `id` names the record uniquely (sequence/sub-sequence number); `payload` is its data. */
  shouldFail(id: string, payload: string): boolean {
    if (this.decided.has(id)) return false;
    this.decided.add(id);
    const fail = this.failOnce.has(payload) || (this.failRate > 0 && this.random() < this.failRate);
    if (fail) this.injected += 1;
    return fail;
  }
}

/** Told what the runtime gave the processor, and what the processor finished. */
export interface DeliveryObserver {
  delivered?(shardId: string, records: readonly KinesisUserRecord[]): void | Promise<void>;
  processed?(shardId: string, records: readonly KinesisUserRecord[]): void;
}

/**
 * Wraps a processor factory: the records before a planned failure are processed
 * and checkpointed, then processRecords throws, so the runtime reports a partial
 * failure and Lambda retries from the failed record — the path a real processor
 * bug takes.
 */
export function instrumentProcessorFactory(
  factory: RecordProcessorFactory,
  options: { plan?: FaultPlan; observer?: DeliveryObserver } = {},
): RecordProcessorFactory {
  return (shardId) => {
    const inner = factory(shardId);
    if (!inner || typeof inner.processRecords !== 'function') {
      throw new TypeError(`The processor factory returned ${typeof inner === 'object' ? 'an object without processRecords' : String(inner)} for ${shardId}`);
    }
    const wrapper: RecordProcessor = {
      initialize: (input) => inner.initialize(input),
      processRecords: async (input) => {
        await options.observer?.delivered?.(input.shardId, input.records);
        const failAt = options.plan ? firstFailing(input.records, options.plan) : -1;
        const records = failAt < 0 ? input.records : input.records.slice(0, failAt);
        if (records.length > 0) {
          await inner.processRecords({ ...input, records });
          options.observer?.processed?.(input.shardId, records);
        }
        if (failAt < 0) return;
        if (failAt > 0) await input.checkpointer.checkpoint(input.records[failAt - 1]);
        const failed = input.records[failAt];
        throw new InjectedFailure(`injected failure at ${failed.sequenceNumber}/${failed.subSequenceNumber} of ${input.shardId}`);
      },
      shardEnded: (input) => inner.shardEnded(input),
      leaseLost: inner.leaseLost ? (input) => inner.leaseLost!(input) : undefined,
      shutdownRequested: inner.shutdownRequested ? (input) => inner.shutdownRequested!(input) : undefined,
    };
    return wrapper;
  };
}

function firstFailing(records: readonly KinesisUserRecord[], plan: FaultPlan): number {
  return records.findIndex((record) =>
    plan.shouldFail(`${record.sequenceNumber}/${record.subSequenceNumber}`, Buffer.from(record.data).toString('utf8')),
  );
}

/**
 * Wraps a Lambda handler: the records before a planned failure go to the
 * handler, and the failed record is reported in `batchItemFailures`.
 */
export function failingHandler(handler: KinesisBatchHandler, plan: FaultPlan): KinesisBatchHandler {
  return async (event, context) => {
    const records = event.Records;
    const failAt = records.findIndex((record) =>
      plan.shouldFail(record.kinesis.sequenceNumber, Buffer.from(record.kinesis.data, 'base64').toString('utf8')),
    );
    if (failAt < 0) return handler(event, context);
    const failures: KinesisStreamBatchItemFailure[] = [];
    if (failAt > 0) {
      const partEvent: KinesisStreamEvent = { Records: records.slice(0, failAt) };
      const response = (await handler(partEvent, context)) as { batchItemFailures?: KinesisStreamBatchItemFailure[] } | undefined;
      failures.push(...(response?.batchItemFailures ?? []));
    }
    failures.push({ itemIdentifier: records[failAt].kinesis.sequenceNumber });
    return { batchItemFailures: failures };
  };
}
