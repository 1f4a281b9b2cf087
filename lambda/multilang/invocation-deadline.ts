/**
 * When a call to a child must be given up: the timeout guard's last moment to answer
 * Lambda, for the invocation the call belongs to. Kept per invocation (async context)
 * because one process may run several invocations at once (the local runner).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'aws-lambda';
import { TimeoutGuard } from '../lifecycle/timeout-guard';

export class InvocationDeadlines {
  private readonly current = new AsyncLocalStorage<TimeoutGuard>();

  constructor(private readonly guardMillis: number | undefined) {}

  /** Runs one invocation with its own guard, computed like the engine's. */
  async run<T>(context: Partial<Context> | undefined, work: () => Promise<T>): Promise<T> {
    const guard = TimeoutGuard.start(context, this.guardMillis);
    try {
      return await this.current.run(guard, work);
    } finally {
      guard.stop();
    }
  }

  /**
   * Resolves at the current invocation's last moment; undefined outside an invocation or
   * without a clock (nothing to wait for, and nothing to hold reactions forever).
   */
  reached(): Promise<unknown> | undefined {
    return this.current.getStore()?.lastCall;
  }
}
