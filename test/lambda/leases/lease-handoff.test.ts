import { HandoffWatch } from '../../../lambda/leases/lease-handoff';
import { newLease } from '../../../lambda/leases/lease';

describe('HandoffWatch', () => {
  const handoff = (counter: number, checkpointOwner?: string) => ({ ...newLease('shardId-000000000000'), exists: true, leaseCounter: counter, leaseOwner: 'new', checkpointOwner });

  test('a handoff is in progress until the row stays exactly the same for the timeout; any change starts the wait over', () => {
    let now = 0;
    const watch = new HandoffWatch(60_000, () => now);
    expect(watch.judge(handoff(5, 'old'))).toBe('inProgress');
    now = 59_999;
    expect(watch.judge(handoff(5, 'old'))).toBe('inProgress');
    now = 60_000;
    expect(watch.judge(handoff(5, 'old'))).toBe('stale');
    // The old owner renewed (or another handoff began): the clock starts again.
    expect(watch.judge(handoff(6, 'old'))).toBe('inProgress');
    now = 100_000;
    expect(watch.judge(handoff(6, 'old'))).toBe('inProgress');
    now = 120_000;
    expect(watch.judge(handoff(6, 'old'))).toBe('stale');
  });

  test('a row without checkpointOwner is no handoff, and forgets an earlier sighting', () => {
    let now = 0;
    const watch = new HandoffWatch(10, () => now);
    expect(watch.judge(handoff(5, 'old'))).toBe('inProgress');
    expect(watch.judge(handoff(6))).toBe('none');
    now = 100;
    expect(watch.judge(handoff(5, 'old'))).toBe('inProgress');
  });
});
