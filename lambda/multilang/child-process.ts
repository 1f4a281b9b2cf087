/**
 * One MultiLang processor process: spawned without a shell, stdout cut into lines for
 * the protocol, stderr drained all the time (a full 64 KiB pipe would block the child)
 * and forwarded line by line. Writing to a child that has exited (EPIPE) is not an
 * error here: the exit itself is what the caller hears about.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { type DaemonMessage, encodeMessage } from './daemon-messages';
import { LineSplitter } from './line-splitter';

export type OutputStream = 'stdout' | 'stderr';

/** How a child ended: it never started (the spawn failed: ENOENT, EACCES, ...) or it exited. */
export interface ChildExit {
  readonly failure: 'spawn' | 'exited';
  readonly description: string;
}

export interface ChildProcessSettings {
  readonly command: readonly string[];
  readonly cwd?: string;
  readonly env: Readonly<Record<string, string>>;
  /** Every stdout line, protocol or not. */
  readonly onStdoutLine: (line: string) => void;
  /** Every stderr line (and the partial line at a flush). */
  readonly onStderrLine: (line: string) => void;
}

/** How long a child whose stdin was closed may take to exit before it is killed. */
const EXIT_GRACE_MS = 5_000;

export class MultiLangChildProcess {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly stderr: LineSplitter;
  private exit?: ChildExit;
  /** Resolves once the child has exited and its output is read; with how it ended. */
  readonly exited: Promise<ChildExit>;

  constructor(settings: ChildProcessSettings) {
    const [executable, ...args] = settings.command;
    this.process = spawn(executable, args, { cwd: settings.cwd, env: settings.env, stdio: 'pipe', shell: false });
    const stdout = new LineSplitter(settings.onStdoutLine);
    this.stderr = new LineSplitter(settings.onStderrLine);
    this.process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    this.process.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    // EPIPE / ECONNRESET once the child is gone: reported by the exit, not here.
    this.process.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      const done = (exit: ChildExit) => {
        if (this.exit !== undefined) return;
        stdout.flush();
        this.stderr.flush();
        this.exit = exit;
        resolve(exit);
      };
      // Before 'close': a child that never started has no pid, and 'error' is all it reports.
      this.process.once('error', (error: NodeJS.ErrnoException) =>
        done(
          this.process.pid === undefined
            ? { failure: 'spawn', description: `could not start ${JSON.stringify(executable)} (${error.code ?? error.message})` }
            : { failure: 'exited', description: `failed (${error.code ?? error.message})` },
        ),
      );
      // 'close', not 'exit': a status written just before exiting is read first.
      this.process.once('close', (code, signal) =>
        done({ failure: 'exited', description: signal ? `exited on signal ${signal}` : `exited with code ${code}` }),
      );
    });
  }

  /**
   * Whether the child keeps Node's event loop alive: only while a call waits for it. An
   * idle child must not keep a process (a test, the local runner) from exiting; when that
   * process exits, the child reads end of input and exits too.
   */
  hold(busy: boolean): void {
    for (const handle of [this.process, this.process.stdin, this.process.stdout, this.process.stderr]) {
      const refCounted = handle as unknown as { ref?: () => void; unref?: () => void };
      if (busy) refCounted.ref?.();
      else refCounted.unref?.();
    }
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** Writes one message line; false if the child can no longer read. */
  send(message: DaemonMessage): boolean {
    if (this.hasExited || !this.process.stdin.writable) return false;
    this.process.stdin.write(encodeMessage(message));
    return true;
  }

  /** Hands over stderr text that has no newline yet. */
  flushOutput(): void {
    this.stderr.flush();
  }

  /** Closes stdin: both KCL clients then exit cleanly. One that does not is killed after a grace period. */
  closeInput(): void {
    if (this.hasExited) return;
    this.process.stdin.end();
    const timer = setTimeout(() => this.kill(), EXIT_GRACE_MS);
    timer.unref();
    void this.exited.then(() => clearTimeout(timer));
  }

  kill(): void {
    if (!this.hasExited) this.process.kill('SIGKILL');
  }
}
