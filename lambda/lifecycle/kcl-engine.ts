import { randomUUID } from 'node:crypto';
import type { Context, KinesisStreamBatchItemFailure, KinesisStreamBatchResponse } from 'aws-lambda';
import { defaultDynamoDbClient, defaultKinesisClient } from './aws-clients';
import { type MetricsSink, type ShardBatchStats, batchLogFields } from '../observability/batch-stats';
import { createMetricsSink, resolveApplicationName } from '../observability/metrics-sink';
import { KclConfigurationError } from '../errors';
import { createLogger } from '../observability/json-logger';
import { shardBatchesOf } from '../records/kinesis-event';
import type { LeaseStore } from '../leases/lease';
import { DynamoDbLeaseTable } from '../leases/lease-table';
import type { KclOptions } from '../options';
import type { RecordProcessorFactory } from '../record-processor';
import { type LifecycleContext, ShardConsumers, type StartingPosition, consumeShardBatch } from './shard-lifecycle';
import { ShardLineage } from './shard-lineage';
import { RuntimeEnvironment } from '../runtime-environment';
import { TimeoutGuard } from './timeout-guard';
import { LeaseKeys, validateLeaseKeyFormat, validateStreamIdentifier } from './lease-keys';
import { HandoffPolicy } from '../leases/lease-handoff';
import { LAMBDA_OWNER_PREFIX } from '../leases/lease-row';
import type { KinesisClient } from '@aws-sdk/client-kinesis';

/** A Lambda handler for Kinesis event source mappings with partial batch responses. */
export type KinesisBatchHandler = (event: unknown, context?: Partial<Context>) => Promise<KinesisStreamBatchResponse>;

/** Replacements for the parts the engine would otherwise build itself (benchmarks, tests). */
export interface EngineOverrides {
  readonly leaseStore?: LeaseStore;
  readonly metrics?: MetricsSink;
  /** How long a KCL 3 handoff may sit unchanged before the runtime writes over it. */
  readonly handoffTimeoutMs?: number;
  /** Within an invocation: how often a lease in a handoff is read again, and for how long at most. */
  readonly handoffPollMs?: number;
  readonly handoffWaitMs?: number;
}

/**
 * Builds the handler shared by withKclProcessor and withRecordHandler. Clients,
 * the lease table and the shard consumers are created once per container, on the
 * first invocation, and reused while the container is warm.
 */
export function createKclHandler(
  factory: RecordProcessorFactory,
  options: KclOptions = {},
  overrides: EngineOverrides = {},
): KinesisBatchHandler {
  const checkpointing = options.checkpointing ?? 'auto';
  if (checkpointing !== 'auto' && checkpointing !== 'manual') {
    throw new KclConfigurationError(`checkpointing must be 'auto' or 'manual', got ${JSON.stringify(checkpointing)}`);
  }
  TimeoutGuard.validate(options.timeoutGuardMs);
  const leaseKeyFormat = validateLeaseKeyFormat(options.leaseKeys ?? process.env[RuntimeEnvironment.LEASE_KEYS] ?? 'shardId');
  const streamIdentifier = validateStreamIdentifier(options.streamIdentifier ?? process.env[RuntimeEnvironment.STREAM_IDENTIFIER], leaseKeyFormat);
  const logger = createLogger(options);
  const metrics = overrides.metrics ?? createMetricsSink(options, { logger });
  let context: LifecycleContext | undefined;
  const decodeOptions = {
    deaggregate: options.deaggregate ?? true,
    onCorrupt: (shardId: string, message: string) => logger.warn(message, { shardId }),
  };

  const lifecycleContext = (): LifecycleContext => {
    if (context) return context;
    let lineage: ShardLineage | undefined;
    // One Kinesis client per container, built on first use (most containers never need one).
    let kinesis: Promise<KinesisClient> | undefined;
    const kinesisClient = (): Promise<KinesisClient> => (kinesis ??= options.kinesis ? Promise.resolve(options.kinesis) : defaultKinesisClient());
    context = {
      store: overrides.leaseStore ?? new DynamoDbLeaseTable(options.dynamoDb ?? defaultDynamoDbClient(), tableName(options)),
      lineage: () => (lineage ??= new ShardLineage(kinesisClient)),
      factory,
      checkpointing,
      deaggregate: decodeOptions.deaggregate,
      // Unique per container, like a KCL worker id: a write is only ever mistaken for
      // our own (a retried write whose response was lost) when it is.
      owner: `${LAMBDA_OWNER_PREFIX}${process.env.AWS_LAMBDA_FUNCTION_NAME ?? resolveApplicationName(options)}:${randomUUID().slice(0, 8)}`,
      logger,
      consumers: new ShardConsumers(factory),
      startingPosition: startingPositionOf(options),
      leaseKeys: new LeaseKeys(leaseKeyFormat, kinesisClient, streamIdentifier),
      handoffs: new HandoffPolicy(overrides.handoffTimeoutMs, overrides.handoffPollMs, overrides.handoffWaitMs),
      maxRecordAgeMs: maxRecordAgeMsOf(options),
    };
    return context;
  };

  return async (event, lambdaContext) => {
    const shards = shardBatchesOf(event, decodeOptions);
    const engine = lifecycleContext();
    const guard = TimeoutGuard.start(lambdaContext, options.timeoutGuardMs, (requested, used) =>
      logger.warn(
        `timeoutGuardMs ${requested} is not shorter than the ${Math.round(used * 2)} ms this invocation has; using ${Math.round(used)} ms`,
      ),
    );
    const stats: ShardBatchStats[] = [];
    const batchItemFailures: KinesisStreamBatchItemFailure[] = [];
    try {
      for (const shard of shards) {
        const started = Date.now();
        const result = await engine.consumers.exclusive(shard.shardId, () => consumeShardBatch(engine, shard, guard));
        stats.push(result.stats);
        if (result.failedSequenceNumber) batchItemFailures.push({ itemIdentifier: result.failedSequenceNumber });
        logger.info(
          'Batch processed',
          batchLogFields(result.stats, {
            firstSequenceNumber: result.firstSequenceNumber,
            lastSequenceNumber: result.lastSequenceNumber,
            checkpoint: result.checkpoint,
            durationMs: Date.now() - started,
          }),
        );
      }
      return { batchItemFailures };
    } catch (error) {
      logger.error('The invocation failed; Lambda will retry the batch', { error });
      throw error;
    } finally {
      guard.stop();
      metrics.publish(stats);
    }
  };
}

function maxRecordAgeMsOf(options: KclOptions): number | undefined {
  const seconds = options.maxRecordAgeSeconds ?? Number(process.env[RuntimeEnvironment.MAX_RECORD_AGE_SECONDS] ?? -1);
  if (!Number.isFinite(seconds) || (seconds !== -1 && seconds < 0)) {
    throw new KclConfigurationError(`maxRecordAgeSeconds must be -1 or a number of seconds, got ${seconds}`);
  }
  return seconds < 0 ? undefined : seconds * 1000;
}

function startingPositionOf(options: KclOptions): StartingPosition {
  const position = options.startingPosition ?? process.env[RuntimeEnvironment.STARTING_POSITION] ?? 'TRIM_HORIZON';
  if (position !== 'TRIM_HORIZON' && position !== 'LATEST' && position !== 'AT_TIMESTAMP') {
    throw new KclConfigurationError(`startingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got ${JSON.stringify(position)}`);
  }
  const seconds = process.env[RuntimeEnvironment.STARTING_POSITION_TIMESTAMP];
  const timestamp = options.startingPositionTimestamp ?? (seconds ? new Date(Number(seconds) * 1000) : undefined);
  if (position === 'AT_TIMESTAMP' && (timestamp === undefined || Number.isNaN(timestamp.getTime()))) {
    throw new KclConfigurationError(
      'startingPosition AT_TIMESTAMP needs startingPositionTimestamp (or KCL_STARTING_POSITION_TIMESTAMP in epoch seconds)',
    );
  }
  return { position, timestamp };
}

function tableName(options: KclOptions): string {
  const name = options.tableName ?? process.env[RuntimeEnvironment.CHECKPOINT_TABLE];
  if (!name) {
    throw new KclConfigurationError(
      'No checkpoint table: pass options.tableName or set the KCL_CHECKPOINT_TABLE environment variable',
    );
  }
  return name;
}
