/**
 * KCL 3's graceful lease handoff, as the runtime meets it. To move a lease, KCL 3 sets
 * `checkpointOwner` to the old owner and `leaseOwner` to the new one without touching
 * `leaseCounter`; the old owner checkpoints and removes `checkpointOwner`, and only then
 * does the new owner start. A row in that state is held by live KCL workers: the runtime
 * waits like the new owner does (it delivers nothing and writes no lease attribute).
 *
 * If the row stays exactly as it was for longer than a handoff may take (the workers
 * stopped midway), the handoff is stale and the runtime's next write completes it, as
 * KCL's new owner does once its handoff timeout passes. "Since when" must outlive a
 * container: Lambda may send every retry of the batch to a fresh one, and a clock kept in
 * memory would then never run out while each retry spends one of the mapping's
 * `retryAttempts`. So the first sighting of a handoff state is noted in the row itself,
 * in an attribute only the runtime reads (`kclLambdaHandoffSeen`: the time, then the
 * state it saw). Writing it changes neither `leaseCounter` nor any attribute KCL reads,
 * so KCL's own conditional writes are not disturbed; it is removed by the runtime's next
 * checkpoint.
 */
import type { Lease } from './lease';

/** How long a handoff may sit unchanged before it counts as abandoned (KCL's default handoff timeout is 30 s). */
export const DEFAULT_HANDOFF_TIMEOUT_MS = 60_000;
/** Within one invocation: how often the lease is read again while a handoff is in progress. */
export const DEFAULT_HANDOFF_POLL_MS = 1_000;
/** Within one invocation: how long at most to wait for a handoff before failing the batch (the timeout guard may cut it shorter). */
export const DEFAULT_HANDOFF_WAIT_MS = 10_000;

/** The attribute in which the runtime notes when it first saw a handoff state. */
export const HANDOFF_SEEN_ATTRIBUTE = 'kclLambdaHandoffSeen';

export type HandoffVerdict = 'none' | 'inProgress' | 'stale';

export interface HandoffJudgement {
  readonly verdict: HandoffVerdict;
  /** The note to write on the row: this handoff state was not seen before. */
  readonly note?: string;
}

/** What identifies a handoff state: any change (a renewal, a checkpoint, a new owner) starts the wait over. */
export function handoffFingerprint(lease: Lease): string {
  return JSON.stringify([
    lease.leaseCounter,
    lease.leaseOwner ?? null,
    lease.checkpointOwner ?? null,
    lease.checkpoint.sequenceNumber,
    lease.checkpoint.subSequenceNumber,
  ]);
}

/** The note `<epoch millis> <fingerprint>`, read apart; undefined for anything else. */
export function parseHandoffNote(note: string | undefined): { readonly since: number; readonly fingerprint: string } | undefined {
  const space = note?.indexOf(' ') ?? -1;
  if (note === undefined || space <= 0) return undefined;
  const since = Number(note.slice(0, space));
  return Number.isSafeInteger(since) ? { since, fingerprint: note.slice(space + 1) } : undefined;
}

/** How the runtime treats handoffs: the timeout, and how it waits within an invocation. */
export class HandoffPolicy {
  constructor(
    readonly timeoutMs = DEFAULT_HANDOFF_TIMEOUT_MS,
    readonly pollMs = DEFAULT_HANDOFF_POLL_MS,
    readonly maxWaitMs = DEFAULT_HANDOFF_WAIT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a lease is in a handoff, and if so whether it went stale, judged from the row's own note. */
  judge(lease: Lease): HandoffJudgement {
    if (lease.checkpointOwner === undefined) return { verdict: 'none' };
    const fingerprint = handoffFingerprint(lease);
    const seen = parseHandoffNote(lease.handoffSeen);
    if (seen?.fingerprint !== fingerprint) return { verdict: 'inProgress', note: `${this.now()} ${fingerprint}` };
    return { verdict: this.now() - seen.since >= this.timeoutMs ? 'stale' : 'inProgress' };
  }
}
