import type { MetricsSink, ShardBatchStats } from './batch-stats';

/** CloudWatch units the runtime's metrics use (the EMF spelling). */
export type MetricUnitName = 'Count' | 'Bytes' | 'Milliseconds';

/** The stats fields that become metrics. */
type MetricField = Exclude<keyof ShardBatchStats, 'shardId'>;

/** One published metric: its CloudWatch name, unit, and the stats field it reports. */
export interface BatchMetric {
  readonly name: string;
  readonly unit: MetricUnitName;
  readonly field: MetricField;
}

/** Every metric the runtime publishes per shard, in publishing order. */
export const BATCH_METRICS: readonly BatchMetric[] = (
  [
    ['KinesisRecords', 'Count', 'kinesisRecords'],
    ['KinesisBytes', 'Bytes', 'kinesisBytes'],
    ['UserRecords', 'Count', 'userRecords'],
    ['DuplicatesSkipped', 'Count', 'duplicatesSkipped'],
    ['RecordsFailed', 'Count', 'recordsFailed'],
    ['MillisBehindLatest', 'Milliseconds', 'millisBehindLatest'],
    ['ProcessRecordsTime', 'Milliseconds', 'processRecordsMs'],
    ['CheckpointWriteTime', 'Milliseconds', 'checkpointWriteMs'],
    ['LeaseLost', 'Count', 'leaseLost'],
    ['ShardEnded', 'Count', 'shardEnded'],
  ] as const
).map(([name, unit, field]) => ({ name, unit, field }));

/**
 * A metric's values for one shard. None (the metric is left out) when the field
 * is unset, e.g. no checkpoint was written or no arrival time was known.
 */
export function metricValues(metric: BatchMetric, stats: ShardBatchStats): number[] {
  const value = stats[metric.field];
  return (Array.isArray(value) ? value : [value]).filter((v): v is number => Number.isFinite(v));
}

export const APPLICATION_NAME_DIMENSION = 'ApplicationName';
export const SHARD_ID_DIMENSION = 'ShardId';

/** EMF caps a metric's value array at 100 entries. */
const MAX_VALUES_PER_DOCUMENT = 100;

export interface EmfSettings {
  readonly namespace: string;
  readonly applicationName: string;
  /** Also publish per shard ([ApplicationName, ShardId]) besides per application. */
  readonly shardDimension: boolean;
  /** @default - process.stdout.write */
  readonly write?: (line: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** An EMF document as CloudWatch Logs reads it. */
export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: MetricUnitName }[];
    }[];
  };
  [key: string]: unknown;
}

/**
 * The built-in writer: one CloudWatch Embedded Metric Format line per shard on
 * stdout, which Lambda ships to CloudWatch Logs, where the metrics are extracted.
 * No agent, no API calls, no dependency.
 */
export class EmfMetricsSink implements MetricsSink {
  private readonly write: (line: string) => void;
  private readonly now: () => number;

  constructor(private readonly settings: EmfSettings) {
    this.write = settings.write ?? ((line) => void process.stdout.write(line));
    this.now = settings.now ?? Date.now;
  }

  publish(stats: readonly ShardBatchStats[]): void {
    const timestamp = this.now();
    for (const shard of stats) {
      for (const document of emfDocuments(shard, this.settings, timestamp)) {
        this.write(JSON.stringify(document) + '\n');
      }
    }
  }
}

/**
 * The EMF documents for one shard: normally one. Only a metric with more than
 * 100 values (a processor checkpointing per record) spills into more documents.
 */
export function emfDocuments(
  stats: ShardBatchStats,
  settings: Pick<EmfSettings, 'namespace' | 'applicationName' | 'shardDimension'>,
  timestamp: number,
): EmfDocument[] {
  const dimensions = settings.shardDimension
    ? [[APPLICATION_NAME_DIMENSION, SHARD_ID_DIMENSION], [APPLICATION_NAME_DIMENSION]]
    : [[APPLICATION_NAME_DIMENSION]];
  const documents: EmfDocument[] = [];
  const documentAt = (index: number): EmfDocument => {
    while (documents.length <= index) {
      documents.push({
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [{ Namespace: settings.namespace, Dimensions: dimensions, Metrics: [] }],
        },
        [APPLICATION_NAME_DIMENSION]: settings.applicationName,
        // Kept as a plain property when it is not a dimension: searchable in Logs Insights, free in CloudWatch.
        [SHARD_ID_DIMENSION]: stats.shardId,
      });
    }
    return documents[index];
  };
  for (const metric of BATCH_METRICS) {
    const values = metricValues(metric, stats);
    for (let start = 0, index = 0; start < values.length; start += MAX_VALUES_PER_DOCUMENT, index++) {
      const chunk = values.slice(start, start + MAX_VALUES_PER_DOCUMENT);
      const document = documentAt(index);
      document._aws.CloudWatchMetrics[0].Metrics.push({ Name: metric.name, Unit: metric.unit });
      document[metric.name] = chunk.length === 1 ? chunk[0] : chunk;
    }
  }
  return documents;
}
