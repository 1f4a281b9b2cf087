import { compareExtended, type ExtendedSequenceNumber, type KinesisUserRecord } from '../../lambda';
import type { DeliveryObserver } from './fault-injection';

/**
 * What reached the processor: every delivery, and the first successful
 * processing of each user record in the order it happened, per shard. The
 * end-to-end checks (at least once, in order, no replay below a checkpoint) read it.
 */
export class DeliveryLog implements DeliveryObserver {
  /** Per shard, each user record's first successful processing, in the order it happened. */
  readonly firstProcessed = new Map<string, ExtendedSequenceNumber[]>();
  /** Payloads processed at least once. */
  readonly processedPayloads = new Set<string>();
  /** User records handed to the processor, counting re-deliveries. */
  deliveries = 0;
  /** User records processed again after an earlier successful processing. */
  reprocessed = 0;
  private readonly processedKeys = new Set<string>();

  delivered(_shardId: string, records: readonly KinesisUserRecord[]): void {
    this.deliveries += records.length;
  }

  processed(shardId: string, records: readonly KinesisUserRecord[]): void {
    let order = this.firstProcessed.get(shardId);
    if (!order) this.firstProcessed.set(shardId, (order = []));
    for (const record of records) {
      const key = `${shardId}/${record.sequenceNumber}/${record.subSequenceNumber}`;
      if (this.processedKeys.has(key)) {
        this.reprocessed += 1;
        continue;
      }
      this.processedKeys.add(key);
      this.processedPayloads.add(Buffer.from(record.data).toString('utf8'));
      order.push({ sequenceNumber: record.sequenceNumber, subSequenceNumber: record.subSequenceNumber });
    }
  }

  /** User records processed per shard (first time only). */
  processedCount(shardId: string): number {
    return this.firstProcessed.get(shardId)?.length ?? 0;
  }

  /** Shards whose first successful processings are not in stream order. */
  outOfOrderShards(): string[] {
    return [...this.firstProcessed.entries()]
      .filter(([, order]) => order.some((position, index) => index > 0 && compareExtended(order[index - 1], position) >= 0))
      .map(([shardId]) => shardId);
  }
}
