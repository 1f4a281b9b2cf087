import { CheckpointError } from '../errors';
import { type CheckpointUpdate, type Lease, type LeaseStore, applyCheckpoint } from './lease';

/**
 * Leases kept in process memory with the same conditional-write rules as the
 * DynamoDB table. For benchmarks of the engine's own CPU cost and for unit
 * tests of code above the store; never for a real deployment.
 */
export class InMemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, Lease>();

  constructor(readonly tableName = 'in-memory') {}

  async getLease(leaseKey: string): Promise<Lease | undefined> {
    return this.leases.get(leaseKey);
  }

  async writeCheckpoint(expected: Lease, update: CheckpointUpdate): Promise<Lease> {
    const current = this.leases.get(expected.leaseKey);
    if ((current?.leaseCounter ?? 0) !== expected.leaseCounter) {
      throw new CheckpointError('ShutdownException', `lease lost: ${expected.leaseKey} changed since leaseCounter ${expected.leaseCounter}`);
    }
    const written = applyCheckpoint(expected, update);
    this.leases.set(expected.leaseKey, written);
    return written;
  }

  async noteHandoff(expected: Lease, note: string): Promise<boolean> {
    const current = this.leases.get(expected.leaseKey);
    if (!current || current.leaseCounter !== expected.leaseCounter || current.checkpointOwner !== expected.checkpointOwner) return false;
    this.leases.set(expected.leaseKey, { ...current, handoffSeen: note });
    return true;
  }
}
