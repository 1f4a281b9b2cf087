/**
 * KCL 3's graceful lease handoff, as the runtime meets it. To move a lease, KCL 3 sets
 * `checkpointOwner` to the old owner and `leaseOwner` to the new one without touching
 * `leaseCounter`; the old owner checkpoints and removes `checkpointOwner`, and only then
 * does the new owner start. A row in that state is held by live KCL workers: the runtime
 * waits like the new owner does (it delivers nothing and writes nothing, and the batch is
 * retried). If the row stays exactly as it was for longer than a handoff may take (the
 * workers stopped midway), the handoff is stale and the runtime's next write completes it,
 * as KCL's new owner does once its handoff timeout passes.
 */
import type { Lease } from './lease';

/** How long a handoff may sit unchanged before it counts as abandoned (KCL's default handoff timeout is 30 s). */
export const DEFAULT_HANDOFF_TIMEOUT_MS = 60_000;

export type HandoffVerdict = 'none' | 'inProgress' | 'stale';

interface Sighting {
  readonly fingerprint: string;
  readonly since: number;
}

/** Per container: when each lease was first seen in the handoff state it is in now. */
export class HandoffWatch {
  private readonly seen = new Map<string, Sighting>();

  constructor(
    private readonly timeoutMs = DEFAULT_HANDOFF_TIMEOUT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  judge(lease: Lease): HandoffVerdict {
    if (lease.checkpointOwner === undefined) {
      this.seen.delete(lease.leaseKey);
      return 'none';
    }
    const fingerprint = JSON.stringify([lease.leaseCounter, lease.leaseOwner, lease.checkpointOwner, lease.checkpoint]);
    const sighting = this.seen.get(lease.leaseKey);
    if (sighting?.fingerprint !== fingerprint) {
      this.seen.set(lease.leaseKey, { fingerprint, since: this.now() });
      return 'inProgress';
    }
    return this.now() - sighting.since >= this.timeoutMs ? 'stale' : 'inProgress';
  }
}
