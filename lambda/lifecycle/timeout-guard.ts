import { KclConfigurationError } from '../errors';

/** The part of the Lambda context the guard reads. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

/**
 * Default margin before the Lambda timeout: a tenth of the time the invocation
 * has, at least 1 s (to let shutdownRequested checkpoint) and at most 30 s, but
 * never more than half the time left.
 */
export function defaultGuardMillis(remainingMillis: number): number {
  return Math.min(Math.max(remainingMillis * 0.1, 1_000), 30_000, remainingMillis / 2);
}

/**
 * Fires `guardMillis` before the invocation's deadline so the engine can stop
 * delivering and answer with a partial response instead of timing out, which
 * would make Lambda replay the whole batch.
 */
export class TimeoutGuard {
  private readonly timers: NodeJS.Timeout[] = [];
  private hasFired = false;
  /** When the guard fires (epoch millis); a timer can run late, the clock cannot. */
  private readonly firesAt: number;
  /** Resolves when the guard fires; never rejects. */
  readonly fired: Promise<'timeout'>;
  /**
   * Resolves at the last moment to answer Lambda: a quarter of the margin before the
   * deadline. A processRecords still running after shutdownRequested may finish (and
   * checkpoint) until then.
   */
  readonly lastCall: Promise<'lastCall'>;

  private constructor(delayMillis: number | undefined, guardMillis = 0) {
    this.firesAt = delayMillis === undefined ? Number.POSITIVE_INFINITY : Date.now() + delayMillis;
    this.fired = this.after(delayMillis, 'timeout', () => (this.hasFired = true));
    this.lastCall = this.after(delayMillis === undefined ? undefined : delayMillis + guardMillis * 0.75, 'lastCall');
  }

  private after<T>(delayMillis: number | undefined, value: T, then?: () => void): Promise<T> {
    return new Promise((resolve) => {
      if (delayMillis === undefined) return;
      const timer = setTimeout(() => {
        then?.();
        resolve(value);
      }, Math.max(0, delayMillis));
      // The guard must never keep a process (a test, the local runner) alive.
      timer.unref();
      this.timers.push(timer);
    });
  }

  /** Refuses a margin that is not a non-negative number of milliseconds. */
  static validate(guardMillis: number | undefined): void {
    if (guardMillis !== undefined && (!Number.isFinite(guardMillis) || guardMillis < 0)) {
      throw new KclConfigurationError(`timeoutGuardMs must be a non-negative number of milliseconds, got ${guardMillis}`);
    }
  }

  /**
   * A guard for this invocation; none when the context has no clock (a direct call in a
   * test). A margin as long as the time left would deliver nothing, ever: it is cut to
   * half the time left and `onCapped` is told.
   */
  static start(
    context: Partial<RemainingTime> | undefined,
    guardMillis?: number,
    onCapped?: (requested: number, used: number) => void,
  ): TimeoutGuard {
    TimeoutGuard.validate(guardMillis);
    if (typeof context?.getRemainingTimeInMillis !== 'function') return new TimeoutGuard(undefined);
    const remaining = context.getRemainingTimeInMillis();
    let margin = guardMillis ?? defaultGuardMillis(remaining);
    if (margin >= remaining) {
      margin = remaining / 2;
      onCapped?.(guardMillis ?? margin, margin);
    }
    return new TimeoutGuard(remaining - margin, margin);
  }

  /** True once the guard has fired, or its time has come and the timer has not run yet. */
  get expired(): boolean {
    return this.hasFired || Date.now() >= this.firesAt;
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }
}
