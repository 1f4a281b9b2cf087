import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  EmulatedEventSourceMapping,
  type EventSourceMappingOptions,
  type InvocationFinished,
  type KinesisBatchHandler,
} from '../../../local/mapping/event-source-mapping';
import type { EventSourceMappingSettings } from '../../../local/mapping/mapping-settings';
import { InMemoryOnFailureDestination } from '../../../local/mapping/on-failure-destination';

/** An emulated mapping under test, with what it invoked and what it gave up on. */
export interface MappingRun {
  readonly mapping: EmulatedEventSourceMapping;
  readonly invocations: InvocationFinished[];
  readonly onFailure: InMemoryOnFailureDestination;
  /** The data of each invocation's records (as `decode` reads them), in invocation order. */
  readonly batches: () => string[][];
}

/**
 * A mapping with partial batch responses on, a fast poll and an in-memory on-failure
 * destination, that records every finished invocation.
 */
export function startMappingRun(
  kinesis: KinesisClient,
  streamName: string,
  handler: KinesisBatchHandler,
  decode: (event: KinesisStreamEvent) => string[],
  settings: Partial<EventSourceMappingSettings> = {},
  options: Partial<EventSourceMappingOptions> = {},
): MappingRun {
  const invocations: InvocationFinished[] = [];
  const onFailure = new InMemoryOnFailureDestination();
  const mapping = new EmulatedEventSourceMapping({
    kinesis,
    streamName,
    handler,
    settings: { reportBatchItemFailures: true, ...settings },
    onFailure,
    pollIntervalMs: 10,
    ...options,
    observer: { invocationFinished: (invocation) => invocations.push(invocation), ...options.observer },
  });
  return { mapping, invocations, onFailure, batches: () => invocations.map((invocation) => decode(invocation.event)) };
}
