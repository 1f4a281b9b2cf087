import { DEFAULT_METRICS_NAMESPACE, RuntimeEnvironment } from '../runtime-environment';
import type { MetricsSink } from './batch-stats';
import { EmfMetricsSink } from './emf-metrics';
import type { KclLogger, KclOptions } from '../options';
import { PowertoolsMetricsSink } from './powertools-adapters';

/** Things the sink needs that tests (and the local runner) replace. */
export interface MetricsSinkIo {
  /** Writes one EMF line (newline included). @default - process.stdout.write */
  readonly write?: (line: string) => void;
  /** Epoch milliseconds for the EMF timestamp. @default Date.now */
  readonly now?: () => number;
  /** Told when publishing fails; metrics never fail a batch. @default - no one */
  readonly logger?: KclLogger;
}

/** Off: `metrics: false`. */
const NO_METRICS: MetricsSink = { publish: () => undefined };

/**
 * The sink the options ask for: the given Powertools `Metrics` instance, nothing
 * for `metrics: false`, else the built-in EMF writer on stdout.
 */
export function createMetricsSink(options: KclOptions = {}, io: MetricsSinkIo = {}): MetricsSink {
  if (options.metrics === false) return NO_METRICS;
  const applicationName = resolveApplicationName(options);
  const shardDimension = options.shardMetricsDimension ?? true;
  const sink: MetricsSink = options.metrics
    ? new PowertoolsMetricsSink(options.metrics, { applicationName, shardDimension })
    : new EmfMetricsSink({
        applicationName,
        shardDimension,
        namespace: options.metricsNamespace ?? (process.env[RuntimeEnvironment.METRICS_NAMESPACE] || DEFAULT_METRICS_NAMESPACE),
        write: io.write,
        now: io.now,
      });
  return {
    publish(stats) {
      try {
        sink.publish(stats);
      } catch (error) {
        io.logger?.warn('Publishing metrics failed', { error });
      }
    },
  };
}


/** The `ApplicationName` dimension value: option, then environment, then function name. */
export function resolveApplicationName(options: Pick<KclOptions, 'applicationName'>): string {
  return (
    options.applicationName ||
    process.env[RuntimeEnvironment.APPLICATION_NAME] ||
    process.env.AWS_LAMBDA_FUNCTION_NAME ||
    'unknown'
  );
}
