/**
 * The lease table's row formats, for tools that read a KCL lease table (the
 * `kcl-lambda lease-table` command): which rows are leases, how a lease row reads,
 * and the names KCL 3 and the runtime give things there.
 */
export {
  LAMBDA_OWNER_PREFIX,
  LEASE_ENTITY_TYPE,
  LEASE_OWNER_INDEX_NAME,
  NON_LEASE_ENTITY_TYPES,
  type LeaseRowKind,
  type ParsedLease,
  classifyRow,
  isLambdaOwner,
  parseLeaseRow,
} from './leases/lease-row';
export type { Lease, MultiStreamAttributes } from './leases/lease';
export { multiStreamIdentifier } from './lifecycle/lease-keys';
