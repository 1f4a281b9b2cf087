/**
 * How the checkpoint table's rows are keyed, the construct's side of the runtime's
 * `leaseKeys` option (written to the function as `KCL_LEASE_KEYS`).
 */
export enum LeaseKeys {
  /** The shard id, as a single-stream KCL application keys its leases. */
  SHARD_ID = 'shardId',
  /**
   * KCL's multi-stream key `account:streamName:creationEpoch:shardId`, for a table a
   * multi-stream KCL application used. The function also needs
   * `kinesis:DescribeStreamSummary` on the stream, which the stream read grant includes.
   */
  MULTI_STREAM = 'multiStream',
}
