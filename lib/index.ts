export { KclFunctionBundling } from './function-bundling';
export { KclConsumer, type KclConsumerProps } from './kcl-consumer';
export type { IKclConsumerMetrics } from './kcl-consumer-metrics';
export { LeaseKeys } from './lease-keys';
export { KclDashboard, type KclDashboardProps } from './kcl-dashboard';
export { KclMetricName, KclMetrics } from './kcl-metrics';
export { OnFailureDestination } from './on-failure-destination';
export { RuntimeEnvironment } from './runtime-environment';
