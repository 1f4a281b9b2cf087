import { type KinesisBatchHandler, createKclHandler } from './lifecycle/kcl-engine';
import type { KclOptions } from './options';
import type { RecordProcessorFactory } from './record-processor';

/**
 * Wraps a KCL-style record processor as a Lambda handler for a Kinesis event
 * source mapping with `ReportBatchItemFailures`. `factory` is called once per
 * shard per warm container (again after the processor's lease is lost, its shard
 * ends or it is shut down).
 */
export function withKclProcessor(factory: RecordProcessorFactory, options?: KclOptions): KinesisBatchHandler {
  if (typeof factory !== 'function') {
    throw new TypeError('withKclProcessor needs a factory function: (shardId) => RecordProcessor');
  }
  return createKclHandler(factory, options);
}
