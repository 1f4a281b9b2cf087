/**
 * The environment variables the runtime (`kcl-lambda/lambda`) reads. The
 * construct writes them into the function so the handler needs no options.
 */
export const RuntimeEnvironment = {
  /** Name of the DynamoDB checkpoint (lease) table. */
  CHECKPOINT_TABLE: 'KCL_CHECKPOINT_TABLE',
  /** KCL application name: a metric dimension and a log field. */
  APPLICATION_NAME: 'KCL_APPLICATION_NAME',
  /** CloudWatch namespace of the runtime's EMF metrics. */
  METRICS_NAMESPACE: 'KCL_METRICS_NAMESPACE',
} as const;
