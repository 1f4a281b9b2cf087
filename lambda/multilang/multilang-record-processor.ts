/**
 * The bridge: a RecordProcessor whose calls are messages to a MultiLang child. The
 * engine keeps everything else (checkpoint table, replay skipping, KPL sub-sequences,
 * shard end, lease lost, the timeout guard, partial responses); this class only turns
 * each lifecycle call into one message, serves the child's checkpoint requests with
 * the call's checkpointer, and waits for the status that ends the call.
 */
import { CheckpointError, type CheckpointErrorCode, MultiLangChildError } from '../errors';
import type { CheckpointingMode, KclLogger } from '../options';
import type {
  Checkpointer,
  InitializationInput,
  ProcessRecordsInput,
  RecordProcessor,
  ShardEndedInput,
  ShutdownRequestedInput,
} from '../record-processor';
import { type ExtendedSequenceNumber, compareExtended, isValidSequenceNumber } from '../records/sequence-number';
import { type DaemonMessage, checkpointReplyMessage, initializeMessage, processRecordsMessage } from './daemon-messages';
import { type MultiLangDialect, leaseLostCall, leaseLostCheckpointError, shardEndedCall, shutdownRequestedCall } from './dialect';
import { MultiLangChildProcess, type OutputStream } from './child-process';
import type { InvocationDeadlines } from './invocation-deadline';
import { type CheckpointRequest, parseProcessorLine } from './processor-messages';

/** Where the child's free text goes. */
export type ChildOutputHandler = (line: string, source: { readonly shardId: string; readonly stream: OutputStream }) => void;

export interface MultiLangSettings {
  readonly command: readonly string[];
  readonly dialect: MultiLangDialect;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly checkpointing: CheckpointingMode;
  readonly deadlines: InvocationDeadlines;
  readonly logger: KclLogger;
  readonly output: ChildOutputHandler;
  /** The processors with a live child in this container (their stderr is flushed after each invocation). */
  readonly live: Set<MultiLangRecordProcessor>;
}

/** Serves one checkpoint request: resolves, or throws the CheckpointError the child is told about. */
type CheckpointTarget = (sequenceNumber: unknown, subSequenceNumber: unknown) => Promise<void>;

interface ActiveCall {
  readonly action: string;
  readonly answeredBy: readonly string[];
  readonly checkpoint: CheckpointTarget;
  /** Checkpoint requests being served, in order; the call ends after them. */
  pending: Promise<void>;
  answered: boolean;
  settled: boolean;
  resolve(): void;
  reject(error: MultiLangChildError): void;
}

export class MultiLangRecordProcessor implements RecordProcessor {
  private child?: MultiLangChildProcess;
  private active?: ActiveCall;
  /** Checkpoint requests that came between calls (the Go client sends them after its status). */
  private readonly early: CheckpointRequest[] = [];
  /** Set once the child failed: every later call fails with it (the engine then replaces this processor). */
  private failure?: MultiLangChildError;
  private lastDelivered?: ExtendedSequenceNumber;
  /** Auto mode: the last record of the last batch the child finished, which the engine checkpoints. */
  private covered?: ExtendedSequenceNumber;
  /** The initialize the child failed, to be tried once more with the next batch. */
  private initializeFailed?: InitializationInput;
  /** The processRecords in progress: true once it was answered. */
  private inFlight?: Promise<boolean>;

  constructor(
    readonly shardId: string,
    private readonly settings: MultiLangSettings,
  ) {}

  /** The child's process id, while it runs (tests, logs). */
  get pid(): number | undefined {
    return this.child?.hasExited === false ? this.child.pid : undefined;
  }

  async initialize(input: InitializationInput): Promise<void> {
    try {
      await this.startAndInitialize(input);
    } catch (error) {
      // Reported by the next call as a failed batch (a partial response), not as a failed invocation.
      if (!(error instanceof MultiLangChildError)) throw error;
      this.fail(error);
      this.initializeFailed = input;
    }
  }

  async processRecords({ records, checkpointer, millisBehindLatest }: ProcessRecordsInput): Promise<void> {
    const retry = this.initializeFailed;
    if (retry && this.failure) {
      // The child never got past initialize (it hung or died there, and the batch was lost to
      // that): nothing was processed since, so a new child starts from the same position.
      this.initializeFailed = undefined;
      this.failure = undefined;
      try {
        await this.startAndInitialize(retry);
      } catch (error) {
        if (error instanceof MultiLangChildError) this.fail(error);
        throw error;
      }
    }
    this.assertUsable();
    const last = records[records.length - 1];
    this.lastDelivered = last;
    const work = this.call(processRecordsMessage(records, millisBehindLatest), ['processRecords'], (sequenceNumber, subSequenceNumber) =>
      this.checkpointRecords(checkpointer, sequenceNumber, subSequenceNumber),
    );
    this.inFlight = work.then(
      () => true,
      () => false,
    );
    try {
      await work;
    } catch (error) {
      if (error instanceof MultiLangChildError) this.fail(error);
      throw error;
    }
    if (this.settings.checkpointing === 'auto') this.covered = last;
  }

  async shardEnded({ checkpointer }: ShardEndedInput): Promise<void> {
    try {
      this.assertUsable();
      const { message, answeredBy } = shardEndedCall(this.settings.dialect);
      await this.call(message, answeredBy, (sequenceNumber, subSequenceNumber) => checkpointAt(checkpointer, sequenceNumber, subSequenceNumber));
    } finally {
      this.stop();
    }
  }

  async leaseLost(): Promise<void> {
    try {
      if (this.failure || !this.child || this.child.hasExited) return;
      const { message, answeredBy } = leaseLostCall(this.settings.dialect);
      const code = leaseLostCheckpointError(this.settings.dialect);
      await this.call(message, answeredBy, refuse(code, 'the lease was lost to another writer'));
    } catch (error) {
      // The engine goes on without this shard either way; a failure here must not fail the invocation.
      this.settings.logger.warn('The MultiLang processor failed in leaseLost', { shardId: this.shardId, error });
    } finally {
      this.stop();
    }
  }

  /**
   * The timeout guard fired while the child works on processRecords. The protocol has
   * one call at a time, so shutdownRequested waits for that answer (until the deadline,
   * when the child is killed). Then "checkpoint everything" means the batch it finished.
   */
  async shutdownRequested({ checkpointer }: ShutdownRequestedInput): Promise<void> {
    try {
      const deadline = this.settings.deadlines.reached();
      const finished = await (deadline ? Promise.race([this.inFlight ?? true, deadline.then(() => false)]) : (this.inFlight ?? true));
      if (!finished && !this.failure) {
        this.fail(new MultiLangChildError(this.shardId, 'deadline', "processRecords had no answer before the invocation's deadline; the child was killed"));
      }
      if (!finished || this.failure || !this.child || this.child.hasExited) return;
      const done = this.lastDelivered;
      const { message, answeredBy } = shutdownRequestedCall();
      await this.call(message, answeredBy, (sequenceNumber, subSequenceNumber) =>
        sequenceNumber === null && done
          ? checkpointer.checkpoint(done.sequenceNumber, done.subSequenceNumber)
          : checkpointAt(checkpointer, sequenceNumber, subSequenceNumber),
      );
    } catch (error) {
      this.settings.logger.warn('The MultiLang processor failed in shutdownRequested', { shardId: this.shardId, error });
    } finally {
      this.stop();
    }
  }

  private async startAndInitialize({ extendedSequenceNumber }: InitializationInput): Promise<void> {
    this.start();
    await this.call(initializeMessage(this.shardId, extendedSequenceNumber), ['initialize'], refuse('InvalidStateException', 'initialize has no checkpointer'));
  }

  /** Forwards stderr text still waiting for its newline. */
  flushOutput(): void {
    this.child?.flushOutput();
  }

  private start(): void {
    this.child?.kill();
    const child = new MultiLangChildProcess({
      command: this.settings.command,
      cwd: this.settings.cwd,
      env: this.settings.env,
      onStdoutLine: (line) => this.onStdoutLine(line),
      onStderrLine: (line) => this.settings.output(line, { shardId: this.shardId, stream: 'stderr' }),
    });
    this.child = child;
    child.hold(false);
    this.settings.live.add(this);
    void child.exited.then(({ failure, description }) => {
      if (this.child === child) this.settings.live.delete(this);
      const call = this.active;
      if (this.child === child && call && !call.answered) {
        const message = failure === 'spawn' ? description : `the child ${description} before answering ${call.action}`;
        call.reject(new MultiLangChildError(this.shardId, failure, message));
      }
    });
  }

  /** Closes the child's stdin (both clients exit cleanly on it); this processor takes no more calls. */
  private stop(): void {
    this.child?.flushOutput();
    this.child?.closeInput();
    this.settings.live.delete(this);
    this.failure ??= new MultiLangChildError(this.shardId, 'exited', 'the processor was shut down');
  }

  private fail(error: MultiLangChildError): void {
    this.child?.kill();
    if (this.failure) return;
    this.failure = error;
    this.settings.logger.error('The MultiLang processor failed; a new one starts with the next batch', { shardId: this.shardId, error });
  }

  private assertUsable(): void {
    if (this.failure) throw this.failure;
    if (!this.child || this.child.hasExited) {
      throw new MultiLangChildError(this.shardId, 'exited', 'the child process is not running (it exited after its last call)');
    }
  }

  /** Sends one message and settles when the child's status for it has come and its checkpoints are answered. */
  private call(message: DaemonMessage, answeredBy: readonly string[], checkpoint: CheckpointTarget): Promise<void> {
    const child = this.child;
    if (!child || child.hasExited) {
      return Promise.reject(new MultiLangChildError(this.shardId, 'exited', `the child process is not running; cannot send ${message.action}`));
    }
    return new Promise<void>((resolve, reject) => {
      const call: ActiveCall = {
        action: message.action,
        answeredBy,
        checkpoint,
        pending: Promise.resolve(),
        answered: false,
        settled: false,
        resolve: () => {
          if (call.settled) return;
          call.settled = true;
          resolve();
        },
        reject: (error) => {
          if (call.settled) return;
          call.settled = true;
          reject(error);
        },
      };
      this.active = call;
      child.hold(true);
      child.send(message);
      for (const request of this.early.splice(0)) this.serve(call, request);
      // One reaction per call on the invocation's deadline (it goes away with the invocation);
      // the exit is watched once per child, in start().
      void this.settings.deadlines.reached()?.then(() => {
        if (call.answered || call.settled) return;
        child.kill();
        call.reject(
          new MultiLangChildError(this.shardId, 'deadline', `no answer to ${message.action} before the invocation's deadline; the child was killed`),
        );
      });
    }).finally(() => {
      this.active = undefined;
      child.hold(false);
    });
  }

  private onStdoutLine(line: string): void {
    const parsed = parseProcessorLine(line);
    const call = this.active;
    if (parsed.kind === 'other') {
      // kclpy writes a blank line around every message: not worth forwarding.
      if (parsed.line.trim().length > 0) this.settings.output(parsed.line, { shardId: this.shardId, stream: 'stdout' });
      return;
    }
    if (parsed.kind === 'checkpoint') {
      if (call && !call.answered) this.serve(call, parsed);
      else this.early.push(parsed);
      return;
    }
    const problem =
      parsed.kind === 'malformedStatus'
        ? `sent a status without responseFor: ${parsed.line}`
        : !call || call.answered
          ? `sent a status for ${parsed.responseFor} when no call was waiting`
          : call.answeredBy.includes(parsed.responseFor)
            ? undefined
            : `answered ${parsed.responseFor} while ${call.action} was waiting`;
    if (problem === undefined && call) {
      call.answered = true;
      void call.pending.then(() => call.resolve());
      return;
    }
    const error = new MultiLangChildError(this.shardId, 'protocol', problem ?? 'broke the protocol');
    if (call && !call.answered) call.reject(error);
    this.fail(error);
  }

  /** Answers one checkpoint request after the ones before it. */
  private serve(call: ActiveCall, request: CheckpointRequest): void {
    call.pending = call.pending.then(() => this.answer(call.checkpoint, request));
  }

  private async answer(checkpoint: CheckpointTarget, request: CheckpointRequest): Promise<void> {
    let error: string | null = null;
    try {
      await checkpoint(request.sequenceNumber, request.subSequenceNumber);
    } catch (cause) {
      error = cause instanceof CheckpointError ? cause.code : 'KinesisClientLibDependencyException';
      if (!(cause instanceof CheckpointError)) {
        this.settings.logger.error('A checkpoint for the MultiLang processor failed', { shardId: this.shardId, error: cause });
      }
    }
    // A child that exited cleanly after its status cannot read this (EPIPE): that is fine.
    this.child?.send(checkpointReplyMessage(request.sequenceNumber, request.subSequenceNumber, error));
  }

  /**
   * processRecords' checkpoints. In auto mode the engine has already checkpointed every
   * batch the child finished, so a child that checkpoints late or rarely may ask for a
   * position below the table's: that position is durable, so it is answered as done
   * (KCL would say IllegalArgumentException, and the Go client would send it forever).
   */
  private async checkpointRecords(checkpointer: Checkpointer, sequenceNumber: unknown, subSequenceNumber: unknown): Promise<void> {
    try {
      await checkpointAt(checkpointer, sequenceNumber, subSequenceNumber);
    } catch (error) {
      const covered = this.covered;
      if (
        covered &&
        error instanceof CheckpointError &&
        error.code === 'IllegalArgumentException' &&
        isValidSequenceNumber(sequenceNumber) &&
        compareExtended({ sequenceNumber, subSequenceNumber: typeof subSequenceNumber === 'number' ? subSequenceNumber : 0 }, covered) <= 0
      ) {
        return;
      }
      throw error;
    }
  }
}

/** KCL's rules for the request's fields: a null sequence is the largest permitted, a null sub-sequence is 0. */
function checkpointAt(checkpointer: Checkpointer, sequenceNumber: unknown, subSequenceNumber: unknown): Promise<void> {
  if (sequenceNumber === null) return checkpointer.checkpoint();
  if (typeof sequenceNumber !== 'string') {
    return Promise.reject(new CheckpointError('IllegalArgumentException', `sequence number ${JSON.stringify(sequenceNumber)} is not a string`));
  }
  if (subSequenceNumber !== null && typeof subSequenceNumber !== 'number') {
    return Promise.reject(
      new CheckpointError('IllegalArgumentException', `sub-sequence number ${JSON.stringify(subSequenceNumber)} is not a number`),
    );
  }
  return checkpointer.checkpoint(sequenceNumber, subSequenceNumber ?? 0);
}

function refuse(code: CheckpointErrorCode, reason: string): CheckpointTarget {
  return () => Promise.reject(new CheckpointError(code, `cannot checkpoint: ${reason}`));
}
