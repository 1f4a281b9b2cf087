/**
 * Time for a history: the emulated mapping's clock and the stream's, which can jump
 * forward (hours, in an instant) so that records age past MaximumRecordAgeInSeconds
 * or past the stream's retention. kinesalite stamps arrival in real time, so a
 * middleware on the Kinesis client moves each record's ApproximateArrivalTimestamp
 * by the jumps made before it was put, and drops from GetRecords what is past
 * retention, as Kinesis trims it. AT_TIMESTAMP iterators are made here too, in
 * emulated time (kinesalite's own never answers when no record is at or after the
 * timestamp). Which history's clock applies is module state: histories run one at a time.
 */
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { systemClock, type Clock } from '../../local/mapping/clock';

/** Kinesis's default retention, which the histories' streams have. */
export const STREAM_RETENTION_MS = 24 * 3600 * 1000;

export class StreamClock implements Clock {
  private offsetMs = 0;
  /** Per sequence number, the clock's offset when the record was put. */
  private readonly putOffsets = new Map<string, number>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Records just put were stamped in real time; they arrived at the emulated now. */
  put(sequenceNumbers: readonly string[]): void {
    for (const sequenceNumber of sequenceNumbers) this.putOffsets.set(sequenceNumber, this.offsetMs);
  }

  /** A record's arrival in emulated time. */
  arrival(sequenceNumber: string, realArrival: Date): Date {
    return new Date(realArrival.getTime() + (this.putOffsets.get(sequenceNumber) ?? 0));
  }
}

let current: StreamClock | undefined;

/** The clock the Kinesis middleware applies, until the next history sets its own. */
export function useStreamClock(clock: StreamClock | undefined): void {
  current = clock;
}

/** Installs the arrival-shifting, retention-trimming, AT_TIMESTAMP-making middleware on a client once. */
export function injectStreamClock(kinesis: KinesisClient): void {
  kinesis.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as GetShardIteratorCommandInput;
      if (context.commandName === 'GetShardIteratorCommand' && input.ShardIteratorType === 'AT_TIMESTAMP') {
        return { output: { $metadata: {}, ShardIterator: await atTimestamp(kinesis, input) }, response: {} } as never;
      }
      let result = await next(args);
      const clock = current;
      if (!clock || context.commandName !== 'GetRecordsCommand') return result;
      const trimmedBefore = clock.now() - STREAM_RETENTION_MS;
      for (let page = 0; ; page++) {
        const output = result.output as GetRecordsCommandOutput;
        const read = output.Records ?? [];
        output.Records = read
          .map((record) => ({ ...record, ApproximateArrivalTimestamp: clock.arrival(record.SequenceNumber!, record.ApproximateArrivalTimestamp ?? new Date(0)) }))
          .filter((record) => record.ApproximateArrivalTimestamp.getTime() >= trimmedBefore);
        // Trimmed records are gone, not an empty page: read on to the first one kept.
        if (output.Records.length > 0 || read.length === 0 || !output.NextShardIterator || page >= 100) return result;
        result = await next({ ...args, input: { ...(args.input as object), ShardIterator: output.NextShardIterator } });
      }
    },
    { step: 'initialize', name: 'propertyTestStreamClock' },
  );
}

/**
 * An iterator at the first record that arrived at or after `Timestamp` (emulated
 * time), else at the shard's tip, as Kinesis gives it: found by reading from the
 * shard's start.
 */
async function atTimestamp(kinesis: KinesisClient, input: GetShardIteratorCommandInput): Promise<string | undefined> {
  const since = new Date(input.Timestamp ?? 0).getTime();
  const at = (type: 'TRIM_HORIZON' | 'LATEST' | 'AT_SEQUENCE_NUMBER', sequenceNumber?: string) =>
    kinesis.send(
      new GetShardIteratorCommand({
        StreamName: input.StreamName,
        StreamARN: input.StreamARN,
        ShardId: input.ShardId,
        ShardIteratorType: type,
        StartingSequenceNumber: sequenceNumber,
      }),
    );
  let iterator = (await at('TRIM_HORIZON')).ShardIterator;
  // A closed shard's end shows after up to three empty pages in kinesalite.
  for (let empty = 0; iterator && empty < 3; ) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    const hit = (page.Records ?? []).find((record) => (record.ApproximateArrivalTimestamp?.getTime() ?? 0) >= since);
    if (hit) return (await at('AT_SEQUENCE_NUMBER', hit.SequenceNumber)).ShardIterator;
    empty = (page.Records ?? []).length === 0 ? empty + 1 : 0;
    iterator = page.NextShardIterator;
  }
  return (await at('LATEST')).ShardIterator;
}
