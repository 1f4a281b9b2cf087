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

const SENTINELS: ReadonlySet<string> = new Set([TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END]);

export function isSentinel(value: string): value is SentinelCheckpoint {
  return SENTINELS.has(value);
}

const DIGITS = /^[0-9]+$/;

/** Non-empty and only decimal digits. */
export function isNumericSequenceNumber(value: string): boolean {
  return DIGITS.test(value);
}

/** TRIM_HORIZON, LATEST or AT_TIMESTAMP: a shard nothing has been checkpointed in yet. */
export function isStartingPosition(sequenceNumber: string): boolean {
  return sequenceNumber === TRIM_HORIZON || sequenceNumber === LATEST || sequenceNumber === AT_TIMESTAMP;
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
  return rankA === 1 ? compareDigits(canonical(a), canonical(b)) : 0;
}

/**
 * Two decimal strings without leading zeros compare as numbers by length, then
 * character by character: the same order as BigInt, without parsing 128-bit values.
 */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Kinesis never sends leading zeros, but a hand-written checkpoint might have them. */
function canonical(digits: string): string {
  return digits.length > 1 && digits.charCodeAt(0) === 48 ? digits.replace(/^0+(?=.)/, '') : digits;
}

/**
 * A test for "strictly after `position`", built once and applied to many records
 * (the replay filter and the failure search run it on every record of a batch).
 * Records must carry numeric sequence numbers, as Kinesis events do.
 */
export function isAfter(position: ExtendedSequenceNumber): (record: ExtendedSequenceNumber) => boolean {
  const positionRank = rank(position.sequenceNumber);
  if (positionRank === 0) return () => true;
  if (positionRank === 2) return () => false;
  const digits = canonical(position.sequenceNumber);
  const sub = position.subSequenceNumber;
  return (record) => {
    const order = compareDigits(canonical(record.sequenceNumber), digits);
    return order > 0 || (order === 0 && record.subSequenceNumber > sub);
  };
}

/**
 * True when `a` lies strictly after `b`; both must carry numeric sequence numbers,
 * as Kinesis records do. Allocates nothing: it runs once per delivered record.
 */
export function isNumericAfter(a: ExtendedSequenceNumber, b: ExtendedSequenceNumber): boolean {
  const x = canonical(a.sequenceNumber);
  const y = canonical(b.sequenceNumber);
  // Numbers of one batch share a long prefix: one comparison of the digits in the usual case.
  if (x.length !== y.length) return x.length > y.length;
  if (x > y) return true;
  return x === y && a.subSequenceNumber > b.subSequenceNumber;
}

/** Orders (sequence, sub-sequence) positions. */
export function compareExtended(a: ExtendedSequenceNumber, b: ExtendedSequenceNumber): number {
  const bySequence = compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber);
  return bySequence !== 0 ? bySequence : a.subSequenceNumber - b.subSequenceNumber;
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
  if (isStartingPosition(value)) return 0;
  throw new TypeError(`Not a Kinesis sequence number or KCL sentinel: ${JSON.stringify(value)}`);
}
