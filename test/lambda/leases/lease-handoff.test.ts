import { HandoffPolicy, handoffFingerprint, parseHandoffNote } from '../../../lambda/leases/lease-handoff';
import { type Lease, newLease } from '../../../lambda/leases/lease';

describe('HandoffPolicy', () => {
  const handoff = (counter: number, checkpointOwner?: string, handoffSeen?: string): Lease => ({
    ...newLease('shardId-000000000000'),
    exists: true,
    leaseCounter: counter,
    leaseOwner: 'new',
    checkpointOwner,
    handoffSeen,
  });

  test("a handoff state not seen before is in progress, with a note of when (the policy's clock) and what", () => {
    const policy = new HandoffPolicy(60_000, 1_000, 10_000, () => 1234);
    const judgement = policy.judge(handoff(5, 'old'));
    expect(judgement).toEqual({ verdict: 'inProgress', note: `1234 ${handoffFingerprint(handoff(5, 'old'))}` });
    expect(parseHandoffNote(judgement.note)).toEqual({ since: 1234, fingerprint: handoffFingerprint(handoff(5, 'old')) });
  });

  test('staleness is judged from the note on the row, not from memory: a fresh policy (a new container) sees the same age', () => {
    const note = `1000 ${handoffFingerprint(handoff(5, 'old'))}`;
    expect(new HandoffPolicy(60_000, 1_000, 10_000, () => 60_999).judge(handoff(5, 'old', note))).toEqual({ verdict: 'inProgress' });
    expect(new HandoffPolicy(60_000, 1_000, 10_000, () => 61_000).judge(handoff(5, 'old', note))).toEqual({ verdict: 'stale' });
  });

  test('any change to the handoff state (a renewal, another owner, a checkpoint) makes the note stale: noted afresh', () => {
    const note = `1000 ${handoffFingerprint(handoff(5, 'old'))}`;
    const policy = new HandoffPolicy(60_000, 1_000, 10_000, () => 500_000);
    expect(policy.judge(handoff(6, 'old', note))).toEqual({ verdict: 'inProgress', note: `500000 ${handoffFingerprint(handoff(6, 'old'))}` });
    expect(policy.judge(handoff(5, 'older', note)).verdict).toBe('inProgress');
    expect(policy.judge({ ...handoff(5, 'old', note), checkpoint: { sequenceNumber: '49590338271490256608559692538361571095921575989136588898', subSequenceNumber: 0 } }).note).toBeDefined();
  });

  test('a row without checkpointOwner is no handoff, whatever note it still carries; a malformed note counts as none', () => {
    const policy = new HandoffPolicy(10, 1, 1, () => 100);
    expect(policy.judge(handoff(6, undefined, '1 x'))).toEqual({ verdict: 'none' });
    expect(policy.judge(handoff(5, 'old', 'garbage')).note).toBe(`100 ${handoffFingerprint(handoff(5, 'old'))}`);
    expect(parseHandoffNote('soon [1]')).toBeUndefined();
  });
});
