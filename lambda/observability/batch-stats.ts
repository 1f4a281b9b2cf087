import type { ExtendedSequenceNumber } from '../records/sequence-number';

/**
 * What one invocation did to one shard. The engine fills one per shard and hands
 * them all to a {@link MetricsSink} once, at the end of the invocation.
 * Counts and timings only: never record data, partition keys or hash keys.
 */
export interface ShardBatchStats {
  readonly shardId: string;
  /** Kinesis records delivered by Lambda in the batch. */
  kinesisRecords: number;
  /** Their decoded data bytes. */
  kinesisBytes: number;
  /** User records after de-aggregation. */
  userRecords: number;
  /** User records at or below the checkpoint (replays), not given to the processor. */
  duplicatesSkipped: number;
  /** User records reported failed in the batch response. */
  recordsFailed: number;
  /** Estimated: invocation time minus the last record's approximateArrivalTimestamp. */
  millisBehindLatest?: number;
  /** Time spent in processRecords / the record handler. */
  processRecordsMs: number;
  /** Latency of each checkpoint write. */
  checkpointWriteMs: number[];
  leaseLost: number;
  shardEnded: number;
}

/** Where per-shard stats go; `publish` is called once per invocation. Sinks from `createMetricsSink` never throw. */
export interface MetricsSink {
  publish(stats: readonly ShardBatchStats[]): void;
}

/** Stats for a shard before anything happened to it. */
export function emptyShardBatchStats(shardId: string): ShardBatchStats {
  return {
    shardId,
    kinesisRecords: 0,
    kinesisBytes: 0,
    userRecords: 0,
    duplicatesSkipped: 0,
    recordsFailed: 0,
    processRecordsMs: 0,
    checkpointWriteMs: [],
    leaseLost: 0,
    shardEnded: 0,
  };
}

/** Positions the batch line names besides the stats. */
export interface BatchLogContext {
  /** Kinesis sequence number of the first record delivered. */
  readonly firstSequenceNumber?: string;
  /** Kinesis sequence number of the last record delivered. */
  readonly lastSequenceNumber?: string;
  /** The durable checkpoint after the batch. */
  readonly checkpoint?: ExtendedSequenceNumber;
  /** Wall time of the whole batch. */
  readonly durationMs?: number;
}

/**
 * Fields of the one info line per batch. Picked field by field from counts,
 * timings and positions (never spread), so no record data can reach the log
 * through it even when a caller hands it a richer object.
 */
export function batchLogFields(stats: ShardBatchStats, context: BatchLogContext = {}): Record<string, unknown> {
  const { checkpoint } = context;
  const fields: Record<string, unknown> = {
    shardId: stats.shardId,
    firstSequenceNumber: context.firstSequenceNumber,
    lastSequenceNumber: context.lastSequenceNumber,
    kinesisRecords: stats.kinesisRecords,
    kinesisBytes: stats.kinesisBytes,
    userRecords: stats.userRecords,
    duplicatesSkipped: stats.duplicatesSkipped,
    recordsFailed: stats.recordsFailed,
    millisBehindLatest: stats.millisBehindLatest,
    processRecordsMs: stats.processRecordsMs,
    checkpointWrites: stats.checkpointWriteMs.length,
    checkpointWriteMs: sum(stats.checkpointWriteMs),
    checkpoint: checkpoint?.sequenceNumber,
    checkpointSubSequenceNumber: checkpoint?.subSequenceNumber,
    leaseLost: stats.leaseLost,
    shardEnded: stats.shardEnded,
    durationMs: context.durationMs,
  };
  for (const key of Object.keys(fields)) {
    if (fields[key] === undefined) delete fields[key];
  }
  return fields;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
