import type { InvocationFinished } from '../mapping/event-source-mapping';

/** Every invocation so far failed without processing a record: the run cannot succeed. */
export class EveryInvocationFailedError extends Error {
  override readonly name = 'EveryInvocationFailedError';
}

/** Failed invocations, none with progress, after which the runner gives up. */
export const DEFAULT_FAILED_INVOCATIONS_LIMIT = 5;

/**
 * Watches the invocations of a run and trips when the first `limit` of them all
 * failed without processing a record (a processor that throws on every record,
 * a module that cannot reach its table): the run stops at once with the error,
 * instead of retrying until the deadline. Once any invocation made progress it
 * never trips; a failure now and then is the mapping's business.
 *
 * The error is the one the runtime logged last (a processor's exception is caught
 * by the runtime and only reaches its log), else the invocation's own verdict.
 */
export class FailureWatch {
  private failed = 0;
  private progressed = false;
  private lastError?: string;
  private lastVerdict?: string;
  private tripError?: EveryInvocationFailedError;
  private rejectTripped?: (error: EveryInvocationFailedError) => void;
  /** Rejects when the watch trips; never resolves. */
  readonly tripped: Promise<never>;

  constructor(private readonly limit = DEFAULT_FAILED_INVOCATIONS_LIMIT) {
    this.tripped = new Promise<never>((_, reject) => (this.rejectTripped = reject));
    // The run may end without anyone awaiting this promise.
    this.tripped.catch(() => undefined);
  }

  /** The error once tripped. */
  get error(): EveryInvocationFailedError | undefined {
    return this.tripError;
  }

  /** Throws the error once tripped. */
  check(): void {
    if (this.tripError) throw this.tripError;
  }

  /** An error the runtime logged (message and error text). */
  runtimeError(message: string, error?: string): void {
    this.lastError = error ? `${message}: ${error}` : message;
  }

  /** Feed of the mapping's `invocationFinished`. */
  invocationFinished(invocation: Pick<InvocationFinished, 'verdict'>): void {
    const { verdict } = invocation;
    if (verdict.kind === 'success' || (verdict.kind === 'partial' && verdict.retryFromIndex > 0)) {
      this.progressed = true;
      return;
    }
    this.failed += 1;
    this.lastVerdict = verdict.kind === 'failed' ? verdict.reason : `the first record (${verdict.itemIdentifier}) was reported failed`;
    if (this.progressed || this.tripError || this.failed < this.limit) return;
    this.tripError = new EveryInvocationFailedError(
      `Every invocation failed (${this.failed} of ${this.failed}, no record processed); stopping. ` +
        `Last error: ${this.lastError ?? this.lastVerdict}`,
    );
    this.rejectTripped?.(this.tripError);
  }

  /**
   * Reads the runtime's JSON log lines at level ERROR from standard error while
   * they pass through (a handler module logs with its own logger, which the
   * runner cannot replace). Returns how to stop reading.
   */
  readStandardError(stream: NodeJS.WriteStream = process.stderr): () => void {
    const write = stream.write;
    const watch = this;
    stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) watch.readLogText(chunk.toString());
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof stream.write;
    return () => {
      stream.write = write;
    };
  }

  private readLogText(text: string): void {
    for (const line of text.split('\n')) {
      if (!line.startsWith('{') || !line.includes('"ERROR"')) continue;
      try {
        const entry = JSON.parse(line) as { level?: unknown; message?: unknown; error?: { name?: unknown; message?: unknown } | string };
        if (entry.level !== 'ERROR' || typeof entry.message !== 'string') continue;
        const error = typeof entry.error === 'string' ? entry.error : entry.error ? `${String(entry.error.name)}: ${String(entry.error.message)}` : undefined;
        this.runtimeError(entry.message, error);
      } catch {
        // Not a log line of ours.
      }
    }
  }
}
