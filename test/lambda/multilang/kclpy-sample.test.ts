/**
 * Opt-in: amazon_kclpy's own sample app (samples/sample_kclpy_app.py), unchanged,
 * through withMultiLangProcessor against dynalite and kinesalite. Set KCLPY_DIR to a
 * copy of https://github.com/awslabs/amazon-kinesis-client-python (only its pure-Python
 * package is used: no jars, no PyPI). CI cannot fetch it, so without KCLPY_DIR the
 * test says that it skipped and why.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withMultiLangProcessor } from '../../../lambda';
import { putRecords, readShardAsEvent, splitShard } from '../../support/kinesis-stream';
import { type RuntimeHarness, memoryLogger, startRuntimeHarness } from '../../support/runtime-harness';
import { failures, loggedText } from './multilang-harness';

const kclpyDir = process.env.KCLPY_DIR;

test('amazon_kclpy’s sample app runs unchanged: batches, replays, shard end on a split', async () => {
  if (!kclpyDir) {
    console.log('kclpy-sample.test.ts skipped: KCLPY_DIR is not set (point it at a copy of amazon-kinesis-client-python to run the kclpy sample app)');
    return;
  }
  const sample = join(kclpyDir, 'samples', 'sample_kclpy_app.py');
  expect(existsSync(sample)).toBe(true);
  const harness: RuntimeHarness = await startRuntimeHarness();
  try {
    const tableName = await harness.newTable();
    const logger = memoryLogger();
    const stderr: string[] = [];
    const handler = withMultiLangProcessor(
      { command: ['python3', sample], env: { PYTHONPATH: kclpyDir }, onOutput: (line, { stream }) => void (stream === 'stderr' && stderr.push(line)) },
      harness.options(tableName, { logger }),
    );
    const stream = await harness.newStream(1);
    const parent = stream.shardIds[0];
    await putRecords(harness.kinesis, stream.streamName, [{ data: 'one' }, { data: 'two' }, { data: 'three' }], { shardId: parent });
    const event = await readShardAsEvent(harness.kinesis, stream.streamName, parent);
    expect(failures(await handler(event))).toEqual([]);
    const last = event.Records.at(-1)!.kinesis.sequenceNumber;
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: last });
    // The sample writes each record to stderr without a newline: flushed at the end of the invocation.
    expect(stderr.join('\n')).toContain(`Sequence Number: ${event.Records[0].kinesis.sequenceNumber}`);
    // A replay reaches nothing.
    stderr.length = 0;
    expect(failures(await handler(event))).toEqual([]);
    expect(stderr).toEqual([]);

    // Shard end: the sample's shard_ended calls checkpoint().
    const [child] = await splitShard(harness.kinesis, stream.streamName, parent);
    await putRecords(harness.kinesis, stream.streamName, [{ data: 'four' }], { shardId: child });
    expect(failures(await handler(await readShardAsEvent(harness.kinesis, stream.streamName, child)))).toEqual([]);
    expect((await harness.row(tableName, parent))?.checkpoint).toEqual({ S: 'SHARD_END' });
    expect(stderr.join('\n')).toContain('Shard has ended checkpointing');

    // The child shard's records went to a second child, which stays for the next batch.
    await putRecords(harness.kinesis, stream.streamName, [{ data: 'five' }], { shardId: child });
    const childEvent = await readShardAsEvent(harness.kinesis, stream.streamName, child);
    expect(failures(await handler(childEvent))).toEqual([]);
    expect((await harness.row(tableName, child))?.checkpoint).toEqual({ S: childEvent.Records.at(-1)!.kinesis.sequenceNumber });
    expect(loggedText(logger.lines).filter((line) => line.startsWith('error'))).toEqual([]);
  } finally {
    await harness.close();
  }
}, 120_000);
