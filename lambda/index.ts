export { withKclProcessor } from './with-kcl-processor';
export { withRecordHandler } from './with-record-handler';
export {
  type ChildOutputHandler,
  type MultiLangDialect,
  type MultiLangProcessorOptions,
  withMultiLangProcessor,
} from './with-multilang-processor';
export type { KinesisBatchHandler } from './lifecycle/kcl-engine';
export type {
  Checkpointer,
  InitializationInput,
  LeaseLostInput,
  ProcessRecordsInput,
  RecordProcessor,
  RecordProcessorFactory,
  ShardEndedInput,
  ShutdownRequestedInput,
  UserRecordHandler,
} from './record-processor';
export type { KinesisUserRecord } from './records/kinesis-user-record';
export type { CheckpointingMode, KclLogger, KclOptions, LeaseKeyFormat } from './options';
export {
  CheckpointError,
  type CheckpointErrorCode,
  CheckpointTableError,
  InvalidKinesisEventError,
  KclConfigurationError,
  MultiLangChildError,
  type MultiLangFailure,
  NonLeaseRowError,
  ParentShardNotFinishedError,
  ProcessorUnusableError,
} from './errors';
export {
  AT_TIMESTAMP,
  type ExtendedSequenceNumber,
  LATEST,
  SHARD_END,
  TRIM_HORIZON,
  compareExtended,
  compareSequenceNumbers,
  isNumericSequenceNumber,
} from './records/sequence-number';
export { type KinesisRecordInput, deaggregate, isAggregated } from './records/deaggregate';
export type { PowertoolsMetricsLike } from './observability/powertools-adapters';
