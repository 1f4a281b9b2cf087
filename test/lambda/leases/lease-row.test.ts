import { classifyRow, isLambdaOwner, parseLeaseRow } from '../../../lambda/lease-rows';
import { kcl35Lease, kcl35NonLeaseRows } from '../../support/kcl-lease-table';

describe('lease rows', () => {
  test('a missing entityType or LEASE is a lease; every KCL 3.5 non-lease row is not, by its entityType', () => {
    expect(classifyRow(kcl35Lease('shardId-000000000000'))).toEqual({ kind: 'lease' });
    const { entityType: _none, ...kcl2 } = kcl35Lease('shardId-000000000000');
    expect(classifyRow(kcl2)).toEqual({ kind: 'lease' });
    expect(kcl35NonLeaseRows().map((row) => classifyRow(row))).toEqual(
      ['WORKER_METRIC_STATS', 'LEADER', 'CLIENT_VERSION_MIGRATION', 'TABLE_MIGRATION', 'STREAM'].map((entityType) => ({ kind: 'other', entityType })),
    );
  });

  test("KCL's fixed coordinator keys are not leases even without entityType; an entityType of another type is no lease either", () => {
    for (const [key, entityType] of [['Leader', 'LEADER'], ['Migration3.0', 'CLIENT_VERSION_MIGRATION'], ['TableMigration3.5', 'TABLE_MIGRATION']]) {
      expect(classifyRow({ leaseKey: { S: key } })).toEqual({ kind: 'other', entityType });
    }
    expect(classifyRow({ leaseKey: { S: 'shardId-000000000000' }, entityType: { N: '1' } })).toEqual({ kind: 'other', entityType: '(entityType of type N)' });
  });

  test('parses the KCL 3.5 attributes it uses, multi-stream ones included, and names what is corrupt', () => {
    const parsed = parseLeaseRow(
      kcl35Lease('1:orders:2:shardId-000000000001', { checkpointOwner: 'a', leaseOwner: 'b', streamName: '1:orders:2', shardId: 'shardId-000000000001', parentShardIds: ['shardId-000000000000'] }),
    );
    expect(parsed).toEqual({
      lease: expect.objectContaining({
        leaseCounter: 17,
        leaseOwner: 'b',
        checkpointOwner: 'a',
        ownerSwitchesSinceCheckpoint: 2,
        parentShardIds: ['shardId-000000000000'],
        multiStream: { streamName: '1:orders:2', shardId: 'shardId-000000000001' },
      }),
    });
    expect(parseLeaseRow({ ...kcl35Lease('shardId-000000000000'), leaseCounter: { N: 'x' } })).toEqual({
      corrupt: expect.stringContaining('leaseCounter "x"'),
    });
    expect(isLambdaOwner('kcl-lambda:fn:1234')).toBe(true);
    expect(isLambdaOwner('kcl-worker-a')).toBe(false);
  });
});
