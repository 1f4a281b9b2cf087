/**
 * The two versions of the protocol. A child cannot say which it speaks, and the other
 * dialect's message is fatal: kclpy 2+ dies on `shutdown` (TypeError), the Go client
 * and kclpy 1.x never answer `leaseLost` or `shardEnded`.
 */
import type { CheckpointErrorCode } from '../errors';
import { type DaemonMessage, lifecycleMessage, shutdownMessage } from './daemon-messages';

/** `kcl2`: KCL 2.x/3.x, amazon_kclpy ≥ 2. `kcl1`: KCL 1.x, the Go client, amazon_kclpy 1.x. */
export type MultiLangDialect = 'kcl2' | 'kcl1';

/** A lifecycle end as one dialect says it. */
export interface LifecycleCall {
  readonly message: DaemonMessage;
  /** The `responseFor` values that answer it. */
  readonly answeredBy: readonly string[];
}

export const DIALECTS: readonly MultiLangDialect[] = ['kcl2', 'kcl1'];

export function shardEndedCall(dialect: MultiLangDialect): LifecycleCall {
  return dialect === 'kcl2'
    ? { message: lifecycleMessage('shardEnded'), answeredBy: ['shardEnded'] }
    : { message: shutdownMessage('TERMINATE'), answeredBy: ['shutdown'] };
}

export function leaseLostCall(dialect: MultiLangDialect): LifecycleCall {
  return dialect === 'kcl2'
    ? { message: lifecycleMessage('leaseLost'), answeredBy: ['leaseLost'] }
    : { message: shutdownMessage('ZOMBIE'), answeredBy: ['shutdown'] };
}

/** Both dialects send `shutdownRequested`; the Go client answers it as `shutdown` (and exits). */
export function shutdownRequestedCall(): LifecycleCall {
  return { message: lifecycleMessage('shutdownRequested'), answeredBy: ['shutdownRequested', 'shutdown'] };
}

/**
 * What a checkpoint after a lost lease is answered with: KCL 2.x gives `leaseLost` no
 * checkpointer (InvalidStateException); KCL 1.x's ZOMBIE checkpointer fails the write
 * because the lease is gone (ShutdownException).
 */
export function leaseLostCheckpointError(dialect: MultiLangDialect): CheckpointErrorCode {
  return dialect === 'kcl2' ? 'InvalidStateException' : 'ShutdownException';
}
