export { EsbuildNotFoundError, KclFunctionBundling } from './function-bundling';
export { KclConsumer, type KclConsumerProps, type OnFailureDestination } from './kcl-consumer';
export type { IKclConsumerMetrics } from './kcl-consumer-metrics';
export { LeaseKeys } from './lease-keys';
export { KclDashboard, type KclDashboardProps } from './kcl-dashboard';
export { DEFAULT_METRICS_NAMESPACE, KclMetricName, kclMetric } from './kcl-metrics';
export { RuntimeEnvironment } from '../lambda/runtime-environment';
