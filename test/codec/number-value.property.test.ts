/**
 * numberValue against JSON.parse: the value of any JSON number text — integers of every length
 * around the 15 digits summed exactly, signs, zero and minus zero, fractions, exponents, the
 * largest and smallest doubles, numbers beyond them — is the one JSON.parse gives, bit for bit.
 * And through decodeFields, a line's `ts` is that value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFields, numberValue } from '../../src/codec/decode-event.js';
import { JsonScanner } from '../../src/codec/json-scan.js';

const digits = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

/** JSON number texts: an integer part without leading zeros, maybe a fraction, maybe an exponent. */
const numberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 24)).map(([first, rest]) => `${first}${rest}`),
    ),
    fc.option(digits(1, 20), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 4)), {
      nil: undefined,
    }),
  )
  .map(
    ([negative, whole, fraction, exponent]) =>
      `${negative ? '-' : ''}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent === undefined ? '' : exponent.join('')}`,
  );

/** The same value, bit for bit (Object.is: minus zero is not zero). */
function same(a: number, b: number): boolean {
  return Object.is(a, b);
}

describe('numberValue', () => {
  it('gives what JSON.parse gives for any JSON number, at any place in a buffer', () => {
    fc.assert(
      fc.property(numberText, fc.string({ maxLength: 5 }), (text, before) => {
        const bytes = Buffer.from(`${before}${text}]`, 'utf8');
        const start = Buffer.byteLength(before);
        const value = numberValue(bytes, start, start + Buffer.byteLength(text));
        expect(same(value, JSON.parse(text) as number), text).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('is exact at the edges: 15 to 17 digits, 2^53, minus zero, the extremes of a double', () => {
    const texts = [
      '0',
      '-0',
      '7',
      '999999999999999',
      '-999999999999999',
      '1000000000000000',
      '9007199254740993',
      '-9007199254740993',
      '12345678901234567890',
      // 17 digits whose digit-by-digit sum rounds twice, and lands off Number()'s value.
      '79128013777825147',
      '-36762651164572669',
      '1732800000000',
      '1732800000000.5',
      '1e-400',
      '-1e-400',
      '1.7976931348623157e308',
      '1.8e308',
      '5e-324',
      '0.1',
      '19.990000000000000001',
    ];
    for (const text of texts) {
      const bytes = Buffer.from(text);
      expect(same(numberValue(bytes, 0, bytes.length), JSON.parse(text) as number), text).toBe(true);
    }
  });

  it("is a line's ts through decodeFields, and a ts beyond a double's range is left out", () => {
    const scanner = new JsonScanner();
    const raw = { id: 'fallback', key: undefined, source: undefined, ts: undefined, raw: true };
    fc.assert(
      fc.property(numberText, (text) => {
        const line = Buffer.from(`{"id":"a","ts":${text},"v":1}`);
        const fields = decodeFields(scanner, line, 0, line.length, raw, 1000);
        const parsed = JSON.parse(text) as number;
        if (Number.isFinite(parsed)) expect(same(fields.ts!, parsed), text).toBe(true);
        else expect(fields.ts).toBeUndefined();
      }),
      { numRuns: 5000 },
    );
  });
});
