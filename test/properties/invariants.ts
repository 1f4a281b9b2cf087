/**
 * The guarantees, checked over the observation log of one history. Each check
 * returns the violations it found, as sentences naming shard and record.
 */
import { type ExtendedSequenceNumber, SHARD_END, compareExtended, compareSequenceNumbers, formatExtended } from '../../lambda/records/sequence-number';
import type { Entry, ObservationLog, ProducedRecord } from './observation-log';

export interface Invariant {
  readonly name: string;
  check(log: ObservationLog): string[];
}

const key = (shardId: string, position: ExtendedSequenceNumber) => `${shardId}/${formatExtended(position)}`;
const describe = (record: ProducedRecord) => `${record.id} (${record.shardId} ${formatExtended(record.position)})`;

/**
 * Covered by a batch Lambda gave up on and described to the on-failure destination
 * (before `before`; a record-age discard at any time, with `ageDiscardsAnyTime`).
 */
function discardedAt(log: ObservationLog, record: ProducedRecord, before = Infinity, ageDiscardsAnyTime = false): boolean {
  return log
    .of('discarded')
    .some(
      (entry) =>
        (entry.at < before || (ageDiscardsAnyTime && entry.condition === 'RecordAgeExceeded')) &&
        entry.shardId === record.shardId &&
        compareSequenceNumbers(entry.startSequenceNumber, record.position.sequenceNumber) <= 0 &&
        compareSequenceNumbers(record.position.sequenceNumber, entry.endSequenceNumber) <= 0,
    );
}

/** Per invocation (`invocation/container`), the checkpoints durable when it began. */
function durableAtInvocationStart(log: ObservationLog): Map<string, ReadonlyMap<string, ExtendedSequenceNumber>> {
  const durable = new Map<string, ReadonlyMap<string, ExtendedSequenceNumber>>();
  for (const start of log.of('invocationStarted')) durable.set(`${start.invocation}/${start.container}`, start.durable);
  return durable;
}

/** When each user record was first processed successfully. */
function firstProcessed(log: ObservationLog): Map<string, Entry & { kind: 'processed' }> {
  const first = new Map<string, Entry & { kind: 'processed' }>();
  for (const entry of log.of('processed')) {
    const at = key(entry.shardId, entry.position);
    if (!first.has(at)) first.set(at, entry);
  }
  return first;
}

/** Past the stream's retention before it was processed (only with MaximumRecordAgeInSeconds -1 in the histories). */
function expiredAt(log: ObservationLog, record: ProducedRecord, before = Infinity): boolean {
  return log
    .of('expired')
    .some((entry) => entry.at < before && entry.shardId === record.shardId && compareExtended(entry.position, record.position) === 0);
}

export const everyRecordProcessedOrDiscarded: Invariant = {
  name: '1. every produced user record is processed successfully at least once, or is in the on-failure output (or expired from the stream first)',
  check(log) {
    const processed = firstProcessed(log);
    return log.produced
      .filter(
        (record) =>
          !record.beforeStart && !processed.has(key(record.shardId, record.position)) && !discardedAt(log, record) && !expiredAt(log, record),
      )
      .map((record) => `${describe(record)} was never processed successfully, is not in the on-failure output and did not expire`);
  },
};

export const firstProcessedInStreamOrder: Invariant = {
  name: '2. per shard, records are first processed successfully in stream order',
  check(log) {
    const violations: string[] = [];
    const lastByShard = new Map<string, Entry & { kind: 'processed' }>();
    for (const entry of firstProcessed(log).values()) {
      const last = lastByShard.get(entry.shardId);
      if (last && compareExtended(entry.position, last.position) < 0) {
        violations.push(
          `${entry.shardId}: ${entry.id} (${formatExtended(entry.position)}) was first processed after ${last.id} (${formatExtended(last.position)})`,
        );
      }
      if (!last || compareExtended(entry.position, last.position) > 0) lastByShard.set(entry.shardId, entry);
    }
    return violations;
  },
};

export const checkpointNeverDecreases: Invariant = {
  name: "3. a shard's checkpoint never decreases",
  check(log) {
    const violations: string[] = [];
    const byShard = new Map<string, (Entry & { kind: 'checkpointWritten' })[]>();
    for (const write of log.of('checkpointWritten')) {
      const writes = byShard.get(write.shardId) ?? [];
      writes.push(write);
      byShard.set(write.shardId, writes);
    }
    for (const [shardId, writes] of byShard) {
      // The lease counter orders the applied writes as the table applied them.
      const ordered = [...writes].sort((a, b) => a.leaseCounter - b.leaseCounter);
      for (let i = 1; i < ordered.length; i++) {
        const [before, after] = [ordered[i - 1], ordered[i]];
        if (before.leaseCounter === after.leaseCounter) {
          violations.push(`${shardId}: two writes were both applied at leaseCounter ${after.leaseCounter}`);
        } else if (compareExtended(after.checkpoint, before.checkpoint) < 0) {
          violations.push(
            `${shardId}: checkpoint went from ${formatExtended(before.checkpoint)} (leaseCounter ${before.leaseCounter}) down to ${formatExtended(after.checkpoint)} (leaseCounter ${after.leaseCounter})`,
          );
        }
      }
    }
    return violations;
  },
};

export const noDeliveryAtOrBelowDurableCheckpoint: Invariant = {
  name: '4. no user record at or below a durable checkpoint is delivered again',
  check(log) {
    const durableAtStart = durableAtInvocationStart(log);
    const violations: string[] = [];
    for (const delivery of log.of('delivered')) {
      const durable = durableAtStart.get(`${delivery.invocation}/${delivery.container}`)?.get(delivery.shardId);
      if (durable && compareExtended(delivery.position, durable) <= 0) {
        violations.push(
          `${delivery.shardId}: ${delivery.id} (${formatExtended(delivery.position)}) was delivered by invocation #${delivery.invocation} although checkpoint ${formatExtended(durable)} was durable when it started`,
        );
      }
    }
    return violations;
  },
};

export const shardEndedOncePerParent: Invariant = {
  name: '5. shardEnded exactly once per closed parent, after all its records and before any child record',
  check(log) {
    const violations: string[] = [];
    const shardEndWrites = log.of('checkpointWritten').filter((write) => write.checkpoint.sequenceNumber === SHARD_END);
    const closed = new Set(log.shards.filter((shard) => shard.closed).map((shard) => shard.shardId));
    for (const write of shardEndWrites) {
      if (!closed.has(write.shardId)) violations.push(`${write.shardId} is open but SHARD_END was written for it`);
    }
    // A parent must end once one of its children has been given a record.
    for (const shard of log.shards) {
      const firstDelivery = log.of('delivered').find((delivery) => delivery.shardId === shard.shardId);
      if (!firstDelivery) continue;
      for (const parentShardId of shard.parentShardIds) {
        const ends = shardEndWrites.filter((write) => write.shardId === parentShardId);
        if (ends.length !== 1) {
          violations.push(`parent ${parentShardId} of ${shard.shardId}: SHARD_END was written ${ends.length} times, expected once`);
          continue;
        }
        if (ends[0].at > firstDelivery.at) {
          violations.push(`${shard.shardId} was given ${firstDelivery.id} before its parent ${parentShardId} was ended`);
        }
      }
    }
    const durableAtStart = durableAtInvocationStart(log);
    for (const call of log.of('shardEnded')) {
      // A second container may have read the parent's lease just before the first ended it
      // (it then loses the write); an invocation that began after the end must not call it.
      const durable = durableAtStart.get(`${call.invocation}/${call.container}`)?.get(call.shardId);
      if (durable?.sequenceNumber === SHARD_END) {
        violations.push(`shardEnded was called for ${call.shardId} by invocation #${call.invocation}, which began after the shard had ended`);
      }
      const unfinished = log.produced.filter(
        (record) =>
          record.shardId === call.shardId &&
          !log.entries.some(
            (entry) =>
              entry.at < call.at && entry.kind === 'processed' && entry.shardId === record.shardId && compareExtended(entry.position, record.position) === 0,
          ) &&
          // A record past its age is one Lambda will discard, never deliver: the runtime may
          // end the parent before Lambda has written the on-failure record.
          !discardedAt(log, record, call.at, true) &&
          !expiredAt(log, record, call.at) &&
          !record.beforeStart,
      );
      if (unfinished.length > 0) {
        violations.push(`shardEnded was called for ${call.shardId} before ${unfinished.map(describe).join(', ')} was processed`);
      }
    }
    return violations;
  },
};

export const leaseLostExactlyWhenAWriteWasLost: Invariant = {
  name: '6. leaseLost exactly when a conditional write was lost (per container; a killed one may miss the one in progress)',
  check(log) {
    if (!log.leaseLostObservable) return [];
    const pairs = new Set([...log.of('leaseLost'), ...log.of('conditionalWriteLost')].map((entry) => `${entry.shardId} ${entry.container}`));
    const violations: string[] = [];
    for (const pair of pairs) {
      const [shardId, container] = [pair.split(' ')[0], Number(pair.split(' ')[1])];
      const lost = log.of('conditionalWriteLost').filter((entry) => entry.shardId === shardId && entry.container === container).length;
      const calls = log.of('leaseLost').filter((entry) => entry.shardId === shardId && entry.container === container).length;
      // A container killed before it heard the answer (or before it could call leaseLost) misses that one.
      const missable = log.killedContainers.has(container) ? 1 : 0;
      if (calls > lost || calls < lost - missable) {
        violations.push(`${shardId}: container ${container} lost ${lost} conditional write(s), but leaseLost was called ${calls} time(s) there`);
      }
    }
    return violations;
  },
};

export const invariants: readonly Invariant[] = [
  everyRecordProcessedOrDiscarded,
  firstProcessedInStreamOrder,
  checkpointNeverDecreases,
  noDeliveryAtOrBelowDurableCheckpoint,
  shardEndedOncePerParent,
  leaseLostExactlyWhenAWriteWasLost,
];

/** Every violation of every invariant, grouped under the invariant's name. */
export function violationsOf(log: ObservationLog): string[] {
  const found: string[] = [];
  for (const invariant of invariants) {
    const violations = invariant.check(log);
    if (violations.length > 0) found.push(`${invariant.name}:\n    ${violations.slice(0, 5).join('\n    ')}`);
  }
  return found;
}
