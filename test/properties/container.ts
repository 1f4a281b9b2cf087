/**
 * One Lambda execution environment of a history, as AWS runs it: its code makes
 * progress only while one of its invocations is active. Between invocations it is
 * frozen (left-over promises resume inside its next invocation, or never); once
 * killed (a timeout, a crash, reclaimed while frozen) nothing of it runs again.
 * The container's DynamoDB requests and the processor's waits pass through
 * `running()`, so a frozen or dead container's work stops where it is.
 */
import type { KinesisBatchHandler as RuntimeHandler } from '../../lambda/lifecycle/kcl-engine';

/** Never settles: what a dead container's work waits on. */
const NEVER = new Promise<never>(() => undefined);

export class Container {
  /** The invocations running now (a duplicate or a concurrent shard can share a container). */
  private readonly active = new Set<number>();
  private dead = false;
  private thawed?: { promise: Promise<void>; resolve: () => void };
  private readonly killedSignal: Promise<never>;
  private signalKilled!: (reason: Error) => void;

  constructor(
    readonly id: number,
    readonly handler: RuntimeHandler,
    /** Called when an invocation thaws work left over from an earlier one. */
    private readonly resumed: () => void = () => undefined,
  ) {
    this.killedSignal = new Promise<never>((_, reject) => (this.signalKilled = reject));
    this.killedSignal.catch(() => undefined);
  }

  /** The invocation is running in this container now. */
  isRunning(invocation: number): boolean {
    return this.active.has(invocation);
  }

  get killed(): boolean {
    return this.dead;
  }

  /** Resolves at once while an invocation is active; waits while frozen; never once killed. */
  running(): Promise<void> {
    if (this.dead) return NEVER;
    if (this.active.size > 0) return Promise.resolve();
    this.thawed ??= promiseWithResolve();
    return this.thawed.promise.then(() => this.running());
  }

  /**
   * Runs one invocation: thaws the container for it and freezes it after. Rejects
   * with a Lambda-style error if the container is killed first.
   */
  async invoke<T>(invocation: number, run: () => Promise<T>): Promise<T> {
    if (this.dead) throw new Error(`container ${this.id} is dead`);
    this.active.add(invocation);
    const thawed = this.thawed;
    this.thawed = undefined;
    if (thawed) {
      this.resumed();
      thawed.resolve();
    }
    try {
      return await Promise.race([run(), this.killedSignal]);
    } finally {
      this.active.delete(invocation);
    }
  }

  /** The environment is reset: what it was doing stops; a request in flight may still land. */
  kill(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.signalKilled(new Error(`Runtime.ExitError: container ${this.id} was killed (${reason})`));
  }
}

function promiseWithResolve(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}
