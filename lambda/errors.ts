/** The failure names KCL and amazon_kclpy give checkpoint errors. */
export type CheckpointErrorCode =
  | 'ShutdownException'
  | 'ThrottlingException'
  | 'InvalidStateException'
  | 'KinesisClientLibDependencyException'
  | 'IllegalArgumentException';

/** Thrown by `Checkpointer.checkpoint` and by the engine's own checkpoint writes. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/** The invocation event is not a Kinesis batch the engine can process. */
export class InvalidKinesisEventError extends Error {
  override readonly name = 'InvalidKinesisEventError';
}

/** The checkpoint table cannot be used at all (missing, access denied, misconfigured). */
export class CheckpointTableError extends Error {
  override readonly name = 'CheckpointTableError';
  constructor(
    readonly tableName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The key names a row KCL keeps for something other than a lease. */
export class NonLeaseRowError extends CheckpointTableError {
  constructor(
    tableName: string,
    readonly leaseKey: string,
    readonly entityType: string,
    options?: { cause?: unknown },
  ) {
    super(
      tableName,
      `Row "${leaseKey}" in checkpoint table "${tableName}" is a KCL ${entityType} row, not a lease: the runtime ` +
        'neither reads it as a lease nor writes it, so this lease key cannot be checkpointed here. Give the consumer ' +
        'a table of its own, or delete the row if no KCL worker uses this table any more',
      options,
    );
  }
}

/** A child shard's batch arrived before its parent shard was finished (KCL's parent-before-child rule). */
export class ParentShardNotFinishedError extends Error {
  override readonly name = 'ParentShardNotFinishedError';
  constructor(
    readonly childShardId: string,
    readonly parentShardId: string,
    reason: string,
  ) {
    super(`Shard ${childShardId} cannot start: parent shard ${parentShardId} ${reason}`);
  }
}

/** Options given to the engine are wrong (missing table name, bad timeout guard, ...). */
export class KclConfigurationError extends Error {
  override readonly name = 'KclConfigurationError';
}

/**
 * Thrown by a processor that cannot take another call (a MultiLang child process that
 * exited, hung or broke the protocol). The engine reports the batch failed from the
 * durable checkpoint and gives the shard's next batch a fresh processor, initialized
 * at that checkpoint, as a restarted KCL worker would.
 */
export class ProcessorUnusableError extends Error {
  override readonly name: string = 'ProcessorUnusableError';
}

/** Why a MultiLang child process failed a call. */
export type MultiLangFailure = 'spawn' | 'exited' | 'protocol' | 'deadline';

/** A MultiLang child process failed a call: it could not start, exited, broke the protocol or missed the deadline. */
export class MultiLangChildError extends ProcessorUnusableError {
  override readonly name = 'MultiLangChildError';
  constructor(
    readonly shardId: string,
    readonly failure: MultiLangFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`MultiLang processor for ${shardId}: ${message}`, options);
  }
}
