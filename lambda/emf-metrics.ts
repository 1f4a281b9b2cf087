import type { MetricsSink, ShardBatchStats } from './batch-metrics';

/** CloudWatch units the runtime's metrics use (the EMF spelling). */
export type MetricUnitName = 'Count' | 'Bytes' | 'Milliseconds';

/** One published metric: its CloudWatch name, unit, and where its values come from. */
export interface BatchMetric {
  readonly name: string;
  readonly unit: MetricUnitName;
  /** No values: the metric is left out of the document (e.g. no checkpoint was written). */
  values(stats: ShardBatchStats): number[];
}

const one = (value: number | undefined): number[] =>
  value === undefined || !Number.isFinite(value) ? [] : [value];

/** Every metric the runtime publishes per shard, in publishing order. */
export const BATCH_METRICS: readonly BatchMetric[] = [
  { name: 'KinesisRecords', unit: 'Count', values: (s) => one(s.kinesisRecords) },
  { name: 'KinesisBytes', unit: 'Bytes', values: (s) => one(s.kinesisBytes) },
  { name: 'UserRecords', unit: 'Count', values: (s) => one(s.userRecords) },
  { name: 'DuplicatesSkipped', unit: 'Count', values: (s) => one(s.duplicatesSkipped) },
  { name: 'RecordsFailed', unit: 'Count', values: (s) => one(s.recordsFailed) },
  { name: 'MillisBehindLatest', unit: 'Milliseconds', values: (s) => one(s.millisBehindLatest) },
  { name: 'ProcessRecordsTime', unit: 'Milliseconds', values: (s) => one(s.processRecordsMs) },
  { name: 'CheckpointWriteTime', unit: 'Milliseconds', values: (s) => s.checkpointWriteMs.filter(Number.isFinite) },
  { name: 'LeaseLost', unit: 'Count', values: (s) => one(s.leaseLost) },
  { name: 'ShardEnded', unit: 'Count', values: (s) => one(s.shardEnded) },
];

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
    const values = metric.values(stats);
    for (let start = 0, index = 0; start < values.length; start += MAX_VALUES_PER_DOCUMENT, index++) {
      const chunk = values.slice(start, start + MAX_VALUES_PER_DOCUMENT);
      const document = documentAt(index);
      document._aws.CloudWatchMetrics[0].Metrics.push({ Name: metric.name, Unit: metric.unit });
      document[metric.name] = chunk.length === 1 ? chunk[0] : chunk;
    }
  }
  return documents;
}
