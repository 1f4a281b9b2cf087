import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';

// aws-kinesis-agg is CommonJS; its bundled types import the v2 SDK, so declare the part used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { RecordAggregator } = require('aws-kinesis-agg') as {
  RecordAggregator: new () => {
    addUserRecord(record: { partitionKey: string; data: Buffer }): void;
    build(): { partitionKey: string; data: Buffer } | undefined;
  };
};

/** A user record the producer put, and where it landed. */
export interface ProducedRecord {
  /** The record's data as text: a JSON object such as `{"id":"record-7","index":7}`. */
  readonly payload: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Position inside its KPL aggregate; 0 for a plain record. */
  readonly subSequenceNumber: number;
  readonly aggregated: boolean;
}

export interface ProduceOptions {
  /** User records to produce. */
  readonly count: number;
  /** Payloads are `{"id":"${prefix}-${index}","index":index}`, indexes starting here. */
  readonly firstIndex?: number;
  readonly prefix?: string;
  /** Every n-th group of user records is packed as one KPL aggregate (0: none). @default 3 */
  readonly aggregateEvery?: number;
  /** User records per aggregate. @default 5 */
  readonly aggregateSize?: number;
}

/**
 * The data of the user record at `index`: JSON, as most producers send and as the
 * README's processors read (`JSON.parse(record.data.toString('utf8'))`).
 */
export function payloadOf(prefix: string, index: number): string {
  return JSON.stringify({ id: `${prefix}-${index}`, index });
}

/**
 * Puts user records as the KPL would: mostly plain records, with every
 * `aggregateEvery`-th group of `aggregateSize` packed into one aggregated record
 * (aws-kinesis-agg's aggregator, the KPL wire format). Partition keys are the
 * records' ids, so records spread over all open shards. Puts in order, 500 per call.
 */
export async function produceRecords(kinesis: KinesisClient, streamName: string, options: ProduceOptions): Promise<ProducedRecord[]> {
  const prefix = options.prefix ?? 'record';
  const first = options.firstIndex ?? 0;
  const aggregateEvery = options.aggregateEvery ?? 3;
  const aggregateSize = options.aggregateSize ?? 5;

  // Each entry: the PutRecords entry and the user payloads it carries.
  const entries: { entry: PutRecordsRequestEntry; payloads: string[]; aggregated: boolean }[] = [];
  let index = first;
  let group = 0;
  while (index < first + options.count) {
    const size = Math.min(aggregateSize, first + options.count - index);
    const ids = Array.from({ length: size }, (_, offset) => `${prefix}-${index + offset}`);
    const payloads = ids.map((_, offset) => payloadOf(prefix, index + offset));
    group += 1;
    if (aggregateEvery > 0 && group % aggregateEvery === 0 && size > 1) {
      const aggregator = new RecordAggregator();
      payloads.forEach((payload, offset) => aggregator.addUserRecord({ partitionKey: ids[offset], data: Buffer.from(payload) }));
      const built = aggregator.build()!;
      entries.push({ entry: { Data: built.data, PartitionKey: built.partitionKey }, payloads, aggregated: true });
    } else {
      payloads.forEach((payload, offset) =>
        entries.push({ entry: { Data: Buffer.from(payload), PartitionKey: ids[offset] }, payloads: [payload], aggregated: false }),
      );
    }
    index += size;
  }

  const produced: ProducedRecord[] = [];
  for (let offset = 0; offset < entries.length; offset += 500) {
    const chunk = entries.slice(offset, offset + 500);
    const output = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: chunk.map((item) => item.entry) }));
    output.Records!.forEach((result, position) => {
      if (result.ErrorCode) throw new Error(`PutRecords failed: ${result.ErrorCode}: ${result.ErrorMessage}`);
      const { payloads, aggregated } = chunk[position];
      payloads.forEach((payload, subSequenceNumber) =>
        produced.push({
          payload,
          shardId: result.ShardId!,
          sequenceNumber: result.SequenceNumber!,
          subSequenceNumber: aggregated ? subSequenceNumber : 0,
          aggregated,
        }),
      );
    });
  }
  return produced;
}
