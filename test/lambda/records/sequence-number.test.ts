import fc from 'fast-check';
import {
  AT_TIMESTAMP,
  LATEST,
  SHARD_END,
  TRIM_HORIZON,
  compareExtended,
  compareSequenceNumbers,
  isValidSequenceNumber,
} from '../../../lambda/records/sequence-number';

describe('sequence numbers', () => {
  test('compare numerically across lengths, never as strings', () => {
    expect(compareSequenceNumbers('99', '100')).toBeLessThan(0);
    expect(compareSequenceNumbers('1000', '999')).toBeGreaterThan(0);
    expect(compareSequenceNumbers('007', '7')).toBe(0);
    const big = '49590338271490256608559692538361571095921575989136588898';
    expect(compareSequenceNumbers(big, `${big.slice(0, -1)}9`)).toBeLessThan(0);
    expect(compareSequenceNumbers(`1${big}`, big)).toBeGreaterThan(0);
  });

  test('agree with BigInt order on any two numbers', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 128n }), fc.bigInt({ min: 0n, max: 2n ** 128n }), (a, b) => {
        const expected = a < b ? -1 : a > b ? 1 : 0;
        expect(Math.sign(compareSequenceNumbers(a.toString(), b.toString()))).toBe(expected);
      }),
    );
  });

  test('starting-position sentinels sort below every number, SHARD_END above everything', () => {
    for (const start of [TRIM_HORIZON, LATEST, AT_TIMESTAMP]) {
      expect(compareSequenceNumbers(start, '0')).toBeLessThan(0);
      expect(compareSequenceNumbers('0', start)).toBeGreaterThan(0);
      expect(compareSequenceNumbers(start, TRIM_HORIZON)).toBe(0);
      expect(compareSequenceNumbers(start, SHARD_END)).toBeLessThan(0);
    }
    expect(compareSequenceNumbers(SHARD_END, '9'.repeat(80))).toBeGreaterThan(0);
  });

  test('sub-sequence numbers order records inside one aggregate', () => {
    expect(compareExtended({ sequenceNumber: '5', subSequenceNumber: 2 }, { sequenceNumber: '5', subSequenceNumber: 10 })).toBeLessThan(0);
    expect(compareExtended({ sequenceNumber: '6', subSequenceNumber: 0 }, { sequenceNumber: '5', subSequenceNumber: 10 })).toBeGreaterThan(0);
  });

  test('anything else is refused with a message that names it', () => {
    expect(isValidSequenceNumber('12a')).toBe(false);
    expect(isValidSequenceNumber('')).toBe(false);
    expect(isValidSequenceNumber(12)).toBe(false);
    expect(isValidSequenceNumber(SHARD_END)).toBe(true);
    expect(() => compareSequenceNumbers('-1', '1')).toThrow('Not a Kinesis sequence number or KCL sentinel: "-1"');
  });
});
