import type { KinesisStreamEvent } from 'aws-lambda';
import { shardBatchesOf } from '../../../lambda/records/kinesis-event';
import { UserRecordStream } from '../../../lambda/records/user-record-stream';

const SHARD = 'shardId-000000000000';

function eventOf(sequenceNumbers: readonly string[]): KinesisStreamEvent {
  return {
    Records: sequenceNumbers.map((sequenceNumber, index) => ({
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${SHARD}:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/test',
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: `pk-${index}`,
        sequenceNumber,
        data: Buffer.from(`record-${index}`).toString('base64'),
        approximateArrivalTimestamp: 1_700_000_000 + index,
      },
    })),
  };
}

const delivered = (sequenceNumbers: readonly string[], checkpoint: string) => {
  const [batch] = shardBatchesOf(eventOf(sequenceNumbers), { deaggregate: true });
  const stream = new UserRecordStream(batch, true, { sequenceNumber: checkpoint, subSequenceNumber: 0 });
  return { taken: stream.rest().map((record) => record.sequenceNumber), stream };
};

describe('shardBatchesOf: whether a batch ascends (delivery then compares no numbers)', () => {
  test.each([
    ['ascending, as Lambda sends', ['100', '101', '205'], true],
    ['numerically, not as text', ['9', '10', '11'], true],
    ['one record', ['5'], true],
    ['a repeated number', ['5', '5'], false],
    ['a number below the one before', ['7', '3', '8'], false],
    ['longer but below as text', ['10', '9'], false],
    ['a leading zero (never from Kinesis)', ['1', '02'], false],
  ] as const)('%s', (_, sequenceNumbers, ascending) => {
    const [batch] = shardBatchesOf(eventOf(sequenceNumbers), { deaggregate: true });
    expect(batch.ascending).toBe(ascending);
  });

  test('ascending: replays at or below the checkpoint are skipped, the rest delivered in order', () => {
    const { taken, stream } = delivered(['100', '101', '102', '103'], '101');
    expect(taken).toEqual(['102', '103']);
    expect(stream.duplicatesSkipped).toBe(2);
    expect(stream.inOrder).toBe(true);
  });

  test('not ascending: each record is compared, and the disorder is noted', () => {
    const { taken, stream } = delivered(['100', '103', '102', '104'], '101');
    expect(taken).toEqual(['103', '102', '104']);
    expect(stream.duplicatesSkipped).toBe(1);
    expect(stream.inOrder).toBe(false);
  });
});
