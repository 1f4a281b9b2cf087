/**
 * One user record as the processor sees it: a plain Kinesis record, or one of the
 * user records packed into a KPL aggregate. Data is already base64-decoded.
 */
export interface KinesisUserRecord {
  readonly shardId: string;
  /** The Kinesis sequence number of the record that carried this user record. */
  readonly sequenceNumber: string;
  /** Position inside a KPL aggregate (0..n-1); 0 for a plain record. */
  readonly subSequenceNumber: number;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  readonly data: Buffer;
  readonly approximateArrivalTimestamp: Date;
  /** True when the record came out of a KPL aggregate. */
  readonly aggregated: boolean;
}
