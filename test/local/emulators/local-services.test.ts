import { type RunningEmulator, localDynamoDbClient, startDynalite } from '../../../local/emulators/emulators';
import { readCheckpointRows } from '../../../local/emulators/local-services';
import { createKcl3Table, kcl35Lease, kcl35NonLeaseRows } from '../../support/kcl-lease-table';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';

describe('readCheckpointRows', () => {
  let dynalite: RunningEmulator;
  beforeAll(async () => {
    dynalite = await startDynalite();
  });
  afterAll(async () => dynalite.close());

  test("lists the lease rows only: KCL 3's worker-metrics and coordinator rows are skipped", async () => {
    const client = localDynamoDbClient(dynalite.endpoint);
    try {
      const tableName = await createKcl3Table(client);
      for (const item of [kcl35Lease('shardId-000000000001'), kcl35Lease('shardId-000000000000'), ...kcl35NonLeaseRows()]) {
        await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
      }
      const rows = await readCheckpointRows(client, tableName);
      expect(rows.map((row) => row.leaseKey)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
      expect(rows[0]).toMatchObject({ leaseOwner: 'kcl-worker-a', leaseCounter: 17 });
    } finally {
      client.destroy();
    }
  });
});
