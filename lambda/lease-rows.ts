/**
 * The lease table's row formats, for code outside the runtime that reads a KCL lease
 * table (the construct, the `kcl-lambda lease-table` command, the local runner): which
 * rows are leases, how a lease row reads, and the names KCL 3 gives things there.
 * Loads no AWS SDK, so the construct can import it.
 */
export {
  LEASE_OWNER_INDEX_NAME,
  NON_LEASE_ENTITY_TYPES,
  classifyRow,
  isLambdaOwner,
  parseLeaseRow,
} from './leases/lease-row';
export { handoffFingerprint, parseHandoffNote } from './leases/lease-handoff';
