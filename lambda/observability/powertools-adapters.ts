import type { MetricsSink, ShardBatchStats } from './batch-stats';
import { APPLICATION_NAME_DIMENSION, BATCH_METRICS, SHARD_ID_DIMENSION, metricValues } from './emf-metrics';

/**
 * The part of a Powertools for AWS Lambda `Metrics` instance the runtime calls.
 * Structural, so the runtime never loads `@aws-lambda-powertools/metrics` itself:
 * users who pass an instance already bundle it.
 */
export interface PowertoolsMetricsLike {
  addDimension(name: string, value: string): unknown;
  addMetric(name: string, unit: string, value: number): unknown;
  publishStoredMetrics(): unknown;
  /** A child that publishes each metric at once, with the parent's namespace and default dimensions. */
  singleMetric?(): PowertoolsMetricsLike;
}

export interface PowertoolsMetricsSettings {
  readonly applicationName: string;
  readonly shardDimension: boolean;
}

/**
 * Publishes the batch metrics through the user's Powertools `Metrics`, so they
 * land in its namespace with its default dimensions (such as `service`).
 * One dimension set only: `ApplicationName` and `ShardId`, or `ApplicationName`
 * alone when the shard dimension is off. (Powertools warns when one key appears
 * in two dimension sets, so the per-application set of the EMF writer is left out.)
 *
 * It writes through `singleMetric()` children when the instance has them: the
 * user's own buffered metrics and dimensions are then neither flushed early nor
 * tagged with ours. The price is one EMF line per metric value instead of one per
 * shard. An instance without `singleMetric` is used directly, flushed once per shard.
 */
export class PowertoolsMetricsSink implements MetricsSink {
  constructor(
    private readonly metrics: PowertoolsMetricsLike,
    private readonly settings: PowertoolsMetricsSettings,
  ) {}

  publish(stats: readonly ShardBatchStats[]): void {
    const child = this.metrics.singleMetric?.();
    for (const shard of stats) {
      if (child) {
        // A single-metric instance publishes, and forgets its dimensions, on every addMetric.
        for (const metric of BATCH_METRICS) {
          for (const value of metricValues(metric, shard)) {
            this.addDimensions(child, shard.shardId);
            child.addMetric(metric.name, metric.unit, value);
          }
        }
      } else {
        this.addDimensions(this.metrics, shard.shardId);
        for (const metric of BATCH_METRICS) {
          for (const value of metricValues(metric, shard)) this.metrics.addMetric(metric.name, metric.unit, value);
        }
        this.metrics.publishStoredMetrics();
      }
    }
  }

  private addDimensions(target: PowertoolsMetricsLike, shardId: string): void {
    target.addDimension(APPLICATION_NAME_DIMENSION, this.settings.applicationName);
    if (this.settings.shardDimension) target.addDimension(SHARD_ID_DIMENSION, shardId);
  }
}
