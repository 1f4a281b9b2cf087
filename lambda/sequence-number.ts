/**
 * Kinesis sequence numbers are unsigned decimal integers of varying length (up to
 * 128 bits); they must be compared numerically, never as strings. KCL adds
 * sentinels for positions that are not records: the three starting positions sort
 * below every number and SHARD_END above everything.
 */

export const TRIM_HORIZON = 'TRIM_HORIZON';
export const LATEST = 'LATEST';
export const AT_TIMESTAMP = 'AT_TIMESTAMP';
export const SHARD_END = 'SHARD_END';

export type SentinelCheckpoint = typeof TRIM_HORIZON | typeof LATEST | typeof AT_TIMESTAMP | typeof SHARD_END;

/** A checkpoint position: a sequence number (or sentinel) and a sub-sequence number. */
export interface ExtendedSequenceNumber {
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
}

const DIGITS = /^[0-9]+$/;
const SENTINELS: ReadonlySet<string> = new Set([TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END]);

export function isSentinel(value: string): value is SentinelCheckpoint {
  return SENTINELS.has(value);
}

export function isNumericSequenceNumber(value: string): boolean {
  return DIGITS.test(value);
}

/** True for a decimal sequence number or a KCL sentinel. */
export function isValidSequenceNumber(value: unknown): value is string {
  return typeof value === 'string' && (isNumericSequenceNumber(value) || isSentinel(value));
}

/**
 * Orders two sequence numbers (or sentinels): negative, zero or positive.
 * The starting-position sentinels are equal to each other and below every number.
 */
export function compareSequenceNumbers(a: string, b: string): number {
  if (a === b) return 0;
  const rankA = rank(a);
  const rankB = rank(b);
  if (rankA !== rankB) return rankA - rankB;
  if (rankA !== 1) return 0;
  // Same length without leading zeros means a plain string compare is numeric;
  // BigInt handles the general case (leading zeros, different lengths).
  const bigA = BigInt(a);
  const bigB = BigInt(b);
  return bigA < bigB ? -1 : bigA > bigB ? 1 : 0;
}

/** Orders (sequence, sub-sequence) positions. */
export function compareExtended(a: ExtendedSequenceNumber, b: ExtendedSequenceNumber): number {
  const bySequence = compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber);
  return bySequence !== 0 ? bySequence : a.subSequenceNumber - b.subSequenceNumber;
}

export function extended(sequenceNumber: string, subSequenceNumber = 0): ExtendedSequenceNumber {
  return { sequenceNumber, subSequenceNumber };
}

export function formatExtended(position: ExtendedSequenceNumber): string {
  return isSentinel(position.sequenceNumber)
    ? position.sequenceNumber
    : `${position.sequenceNumber}/${position.subSequenceNumber}`;
}

/** 0: starting-position sentinels; 1: numbers; 2: SHARD_END. Anything else throws. */
function rank(value: string): number {
  if (isNumericSequenceNumber(value)) return 1;
  if (value === SHARD_END) return 2;
  if (isSentinel(value)) return 0;
  throw new TypeError(`Not a Kinesis sequence number or KCL sentinel: ${JSON.stringify(value)}`);
}
