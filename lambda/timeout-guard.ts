import { KclConfigurationError } from './errors';

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
  private timer?: NodeJS.Timeout;
  private hasFired = false;
  /** When the guard fires (epoch millis); a timer can run late, the clock cannot. */
  private readonly firesAt: number;
  /** Resolves when the guard fires; never rejects. */
  readonly fired: Promise<'timeout'>;

  private constructor(delayMillis: number | undefined) {
    this.firesAt = delayMillis === undefined ? Number.POSITIVE_INFINITY : Date.now() + delayMillis;
    this.fired = new Promise((resolve) => {
      if (delayMillis === undefined) return;
      this.timer = setTimeout(() => {
        this.hasFired = true;
        resolve('timeout');
      }, Math.max(0, delayMillis));
      // The guard must never keep a process (a test, the local runner) alive.
      this.timer.unref();
    });
  }

  /** A guard for this invocation; none when the context has no clock (a direct call in a test). */
  static start(context: Partial<RemainingTime> | undefined, guardMillis?: number): TimeoutGuard {
    if (guardMillis !== undefined && (!Number.isFinite(guardMillis) || guardMillis < 0)) {
      throw new KclConfigurationError(`timeoutGuardMs must be a non-negative number of milliseconds, got ${guardMillis}`);
    }
    if (typeof context?.getRemainingTimeInMillis !== 'function') return new TimeoutGuard(undefined);
    const remaining = context.getRemainingTimeInMillis();
    return new TimeoutGuard(remaining - (guardMillis ?? defaultGuardMillis(remaining)));
  }

  /** True once the guard has fired, or its time has come and the timer has not run yet. */
  get expired(): boolean {
    return this.hasFired || Date.now() >= this.firesAt;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
