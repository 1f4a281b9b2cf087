/**
 * A processor that says it cannot go on (ProcessorUnusableError, as the MultiLang
 * bridge does when its child dies) fails the batch from the durable checkpoint and is
 * replaced: the shard's next batch gets a new processor, initialized at the checkpoint.
 * Any other error keeps the processor, as before.
 */
import { ProcessorUnusableError, type RecordProcessor, withKclProcessor } from '../../../lambda';
import { type RuntimeHarness, type TestStream, kinesisEvent, memoryLogger, sequenceNumbers, startRuntimeHarness } from '../../support/runtime-harness';

describe('a processor that cannot go on is replaced', () => {
  let harness: RuntimeHarness;
  let stream: TestStream;
  beforeAll(async () => {
    harness = await startRuntimeHarness();
    stream = await harness.newStream(1);
  });
  afterAll(async () => harness.close());

  test.each([
    ['ProcessorUnusableError', () => new ProcessorUnusableError('the child process exited'), 2],
    ['any other error', () => new Error('a bad record'), 1],
  ])('%s from processRecords', async (_name, error, instances) => {
    const tableName = await harness.newTable();
    const seqs = sequenceNumbers(4);
    const initialized: string[] = [];
    let failNext = false;
    const factory = (): RecordProcessor => ({
      initialize: ({ extendedSequenceNumber }) => void initialized.push(extendedSequenceNumber.sequenceNumber),
      processRecords: async ({ records, checkpointer }) => {
        await checkpointer.checkpoint(records[0]);
        if (failNext) {
          failNext = false;
          throw error();
        }
      },
      shardEnded: ({ checkpointer }) => checkpointer.checkpoint(),
    });
    const handler = withKclProcessor(factory, harness.options(tableName, { logger: memoryLogger() }));
    const event = (from: number) =>
      kinesisEvent(stream.streamArn, stream.shardIds[0], seqs.slice(from, from + 2).map((sequenceNumber) => ({ sequenceNumber })));
    failNext = true;
    expect((await handler(event(0))).batchItemFailures).toEqual([{ itemIdentifier: seqs[1] }]);
    expect((await handler(event(1))).batchItemFailures).toEqual([]);
    expect(initialized).toEqual(instances === 2 ? ['TRIM_HORIZON', seqs[0]] : ['TRIM_HORIZON']);
  });
});
