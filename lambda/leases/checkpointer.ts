import { CheckpointError } from '../errors';
import type { KinesisUserRecord } from '../records/kinesis-user-record';
import type { Lease, LeaseStore } from './lease';
import type { Checkpointer } from '../record-processor';
import {
  type ExtendedSequenceNumber,
  SHARD_END,
  compareExtended,
  formatExtended,
  isValidSequenceNumber,
} from '../records/sequence-number';

/** What a checkpoint may reach in the current step of the lifecycle. */
export type CheckpointScope =
  /** Up to the largest record delivered so far (processRecords, shutdownRequested). */
  | { readonly kind: 'records'; readonly largestDelivered?: ExtendedSequenceNumber }
  /** Up to the last record taken so far from a stream of records (withRecordHandler). */
  | { readonly kind: 'stream'; readonly stream: { readonly lastTaken?: ExtendedSequenceNumber } }
  /** The shard is closed and drained: any checkpoint records SHARD_END (shardEnded). */
  | { readonly kind: 'shardEnd' };

export interface CheckpointSessionOptions {
  readonly store: LeaseStore;
  readonly lease: Lease;
  readonly owner: string;
  /** Written with the row when it is created. */
  readonly parentShardIds?: readonly string[];
  /** Called with each write's latency, for metrics. */
  readonly onWrite?: (millis: number) => void;
}

/** A checkpointer with its own off switch. */
export interface CheckpointerView {
  readonly checkpointer: Checkpointer;
  /** From now on this view refuses with ShutdownException. */
  close(reason: string): void;
}

/**
 * One shard's checkpoint state for the length of one step: the durable lease, what
 * may be checkpointed, and the serialised writes. KCL's validation rules live here:
 * a checkpoint lies in [last checkpoint, largest delivered] or is refused.
 */
export class CheckpointSession {
  private durable: Lease;
  private scope: CheckpointScope = { kind: 'records' };
  private closedReason?: string;
  private lost = false;
  private queue: Promise<unknown> = Promise.resolve();
  readonly checkpointer: Checkpointer;

  constructor(private readonly options: CheckpointSessionOptions) {
    this.durable = options.lease;
    this.checkpointer = { checkpoint: (target?: unknown, sub?: unknown) => this.checkpoint(target, sub) } as Checkpointer;
  }

  /** The lease as last written (or read): what is durable. */
  get lease(): Lease {
    return this.durable;
  }

  get leaseLost(): boolean {
    return this.lost;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /**
   * Another checkpointer over this session that can be shut on its own (for a caller
   * that must stop before the session does), and that can insist on a position.
   */
  view(options: { readonly positionRequired?: string } = {}): CheckpointerView {
    let closedReason: string | undefined;
    const checkpointer = {
      checkpoint: (target?: unknown, sub?: unknown) => {
        if (closedReason) {
          return Promise.reject(new CheckpointError('ShutdownException', `cannot checkpoint ${this.durable.leaseKey}: ${closedReason}`));
        }
        if (target === undefined && options.positionRequired) {
          return Promise.reject(new CheckpointError('InvalidStateException', options.positionRequired));
        }
        return this.checkpoint(target, sub);
      },
    } as Checkpointer;
    return { checkpointer, close: (reason) => void (closedReason ??= reason) };
  }

  setScope(scope: CheckpointScope): void {
    this.scope = scope;
  }

  /** Later checkpoint calls fail with ShutdownException (the step is over). */
  close(reason: string): void {
    this.closedReason ??= reason;
  }

  /** Waits for writes already started. */
  async settle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** Records `target`, unless it is already durable (or `evenIfUnchanged`). Throws CheckpointError. */
  write(target: ExtendedSequenceNumber, options: { evenIfUnchanged?: boolean } = {}): Promise<void> {
    const next = this.queue.then(() => this.writeNow(target, options.evenIfUnchanged ?? false));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private checkpoint(target: unknown, sub: unknown): Promise<void> {
    try {
      return this.write(this.resolveTarget(target, sub));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async writeNow(target: ExtendedSequenceNumber, evenIfUnchanged: boolean): Promise<void> {
    this.assertOpen();
    if (!evenIfUnchanged && compareExtended(target, this.durable.checkpoint) === 0) return;
    const started = Date.now();
    try {
      this.durable = await this.options.store.writeCheckpoint(this.durable, {
        checkpoint: target,
        owner: this.options.owner,
        parentShardIds: this.options.parentShardIds,
      });
    } catch (error) {
      if (error instanceof CheckpointError && error.code === 'ShutdownException') {
        this.lost = true;
        this.close('the lease was lost to another writer');
      }
      throw error;
    } finally {
      this.options.onWrite?.(Date.now() - started);
    }
  }

  /** Turns the checkpoint() arguments into a validated position. */
  private resolveTarget(target: unknown, sub: unknown): ExtendedSequenceNumber {
    this.assertOpen();
    const requested = parseTarget(target, sub);
    if (this.scope.kind === 'shardEnd') {
      if (requested && compareExtended(requested, this.durable.checkpoint) < 0) {
        throw illegal(`${formatExtended(requested)} is below the last checkpoint ${formatExtended(this.durable.checkpoint)}`);
      }
      return { sequenceNumber: SHARD_END, subSequenceNumber: 0 };
    }
    const largest = this.scope.kind === 'stream' ? this.scope.stream.lastTaken : this.scope.largestDelivered;
    if (!requested) return largest ?? this.durable.checkpoint;
    if (compareExtended(requested, this.durable.checkpoint) < 0) {
      throw illegal(`${formatExtended(requested)} is below the last checkpoint ${formatExtended(this.durable.checkpoint)}`);
    }
    if (!largest || compareExtended(requested, largest) > 0) {
      const limit = largest ? formatExtended(largest) : 'nothing delivered yet';
      throw illegal(`${formatExtended(requested)} is above the largest record delivered (${limit})`);
    }
    return requested;
  }

  private assertOpen(): void {
    if (this.closedReason) {
      throw new CheckpointError('ShutdownException', `cannot checkpoint ${this.durable.leaseKey}: ${this.closedReason}`);
    }
  }
}

/** undefined for checkpoint(); a position for checkpoint(record) and checkpoint(seq, sub?). */
function parseTarget(target: unknown, sub: unknown): ExtendedSequenceNumber | undefined {
  if (target === undefined) return undefined;
  if (typeof target === 'object' && target !== null) {
    const record = target as Partial<KinesisUserRecord>;
    return parseTarget(record.sequenceNumber ?? null, record.subSequenceNumber ?? 0);
  }
  if (!isValidSequenceNumber(target)) {
    throw illegal(`${JSON.stringify(target)} is not a sequence number or a KCL sentinel`);
  }
  const subSequenceNumber = sub ?? 0;
  if (typeof subSequenceNumber !== 'number' || !Number.isSafeInteger(subSequenceNumber) || subSequenceNumber < 0) {
    throw illegal(`sub-sequence number ${JSON.stringify(sub)} is not a non-negative integer`);
  }
  return { sequenceNumber: target, subSequenceNumber };
}

function illegal(message: string): CheckpointError {
  return new CheckpointError('IllegalArgumentException', `cannot checkpoint at ${message}`);
}
