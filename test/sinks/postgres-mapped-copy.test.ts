import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnText, encodeMappedText, epochMsAsIso } from '../../src/sinks/postgres-mapped-copy.js';

/**
 * The microsecond an epoch-milliseconds JSON number falls on, a half towards the later one, by
 * exact rational arithmetic on its text: value = ±mantissa × 10^exponent / 10^(fraction digits).
 */
function exactMicros(text: string): bigint {
  const [, sign, whole, fraction = '', exponent = '0'] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(
    text,
  )!;
  let numerator = BigInt(`${sign}${whole}${fraction}`) * 1000n;
  let denominator = 10n ** BigInt(fraction.length);
  const power = Number(exponent);
  if (power >= 0) numerator *= 10n ** BigInt(power);
  else denominator *= 10n ** BigInt(-power);
  // floor((2n + d) / 2d), a floor for negative numerators too.
  const top = 2n * numerator + denominator;
  const bottom = 2n * denominator;
  const quotient = top / bottom;
  return top % bottom < 0n ? quotient - 1n : quotient;
}

/** The microsecond an ISO time as epochMsAsIso writes it stands for. */
function isoMicros(iso: string): bigint {
  const [, seconds, digits] = /^(.*:\d\d)\.(\d{3,6})Z$/.exec(iso)!;
  return BigInt(Date.parse(`${seconds}Z`)) * 1000n + BigInt(digits!.padEnd(6, '0'));
}

const digits = (min: number, max: number, weights: readonly string[]) =>
  fc.array(fc.constantFrom(...weights), { minLength: min, maxLength: max }).map((d) => d.join(''));
/** Mostly 9s, 5s and 0s: the fractions that carry into the next millisecond, tie, or end early. */
const EDGY = ['9', '9', '9', '5', '5', '0', '0', '1', '4', '6'];

/**
 * Epoch-millisecond number texts as JSON writes them: now-ish, near the epoch on either side, or
 * anywhere a Date reaches; fractions of many digits; sometimes with the point moved into an exponent.
 */
const epochText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
      fc.integer({ min: 0, max: 8_640_000_000_000_000 }),
    ),
    digits(0, 14, EDGY),
    fc.integer({ min: -3, max: 3 }),
  )
  .map(([negative, whole, fraction, moved]) => {
    const plain = `${whole}${fraction === '' ? '' : `.${fraction}`}`;
    if (moved === 0) return `${negative ? '-' : ''}${plain}`;
    // The same value as mantissa and exponent: the point moved `moved` places left (or right).
    const all = `${whole}${fraction}`;
    const point = String(whole).length - moved;
    const mantissa =
      point <= 0
        ? `0.${'0'.repeat(-point)}${all}`
        : point >= all.length
          ? `${all}${'0'.repeat(point - all.length)}`
          : `${all.slice(0, point)}.${all.slice(point)}`;
    return `${negative ? '-' : ''}${mantissa}e${moved}`;
  });

describe('mapped values as COPY text', () => {
  it('spells each kind of value as its column converts it', () => {
    expect(columnText({ kind: 'null' }, 'plain')).toBeNull();
    expect(columnText({ kind: 'string', value: 'a\tb' }, 'plain')).toBe('a\tb');
    expect(columnText({ kind: 'string', value: 'say "hi"' }, 'json')).toBe('"say \\"hi\\""');
    expect(columnText({ kind: 'number', text: '12345678901234567890' }, 'plain')).toBe(
      '12345678901234567890',
    );
    expect(columnText({ kind: 'number', text: '19.990000000000000001' }, 'json')).toBe(
      '19.990000000000000001',
    );
    expect(columnText({ kind: 'boolean', value: false }, 'plain')).toBe('false');
    expect(columnText({ kind: 'json', text: '{"a": [1, 2.50]}' }, 'json')).toBe('{"a": [1, 2.50]}');
    expect(columnText({ kind: 'number', text: '0' }, 'time')).toBe('1970-01-01T00:00:00.000Z');
    expect(columnText({ kind: 'string', value: '2024-02-29' }, 'time')).toBe('2024-02-29');
  });

  it('reads a number for a time column as epoch milliseconds, to the microsecond', () => {
    expect(epochMsAsIso('1700000000123')).toBe('2023-11-14T22:13:20.123Z');
    expect(epochMsAsIso('1700000000123.456')).toBe('2023-11-14T22:13:20.123456Z');
    expect(epochMsAsIso('-1.5')).toBe('1969-12-31T23:59:59.998500Z');
    // Beyond what a Date holds: left as written, for the server to refuse with its own message.
    expect(epochMsAsIso('1e300')).toBe('1e300');
  });

  it('carries a fraction that rounds up to the next millisecond into it, and rounds from the digits as written', () => {
    expect(epochMsAsIso('1.9996')).toBe('1970-01-01T00:00:00.002Z');
    expect(epochMsAsIso('1700000000123.9997')).toBe('2023-11-14T22:13:20.124Z');
    expect(epochMsAsIso('1.9994')).toBe('1970-01-01T00:00:00.001999Z');
    expect(epochMsAsIso('-1.9996')).toBe('1969-12-31T23:59:59.998Z');
    // A double reads this as …123.000488: the digits say half a microsecond, which rounds up.
    expect(epochMsAsIso('1700000000123.0005')).toBe('2023-11-14T22:13:20.123001Z');
    // Halves go to the later microsecond, either side of the epoch.
    expect(epochMsAsIso('-0.0005')).toBe('1970-01-01T00:00:00.000Z');
    expect(epochMsAsIso('-0.0015')).toBe('1969-12-31T23:59:59.999999Z');
    expect(epochMsAsIso('1.5e-3')).toBe('1970-01-01T00:00:00.000002Z');
    expect(epochMsAsIso('17e11')).toBe('2023-11-14T22:13:20.000Z');
    expect(epochMsAsIso('1e-400')).toBe('1970-01-01T00:00:00.000Z');
    expect(epochMsAsIso('8.64e15')).toBe('+275760-09-13T00:00:00.000Z');
    expect(epochMsAsIso('8640000000000000.001')).toBe('8640000000000000.001');
  });

  it('lands every epoch-milliseconds number on the microsecond exact decimal arithmetic rounds it to', () => {
    fc.assert(
      fc.property(epochText, (text) => {
        const micros = exactMicros(text);
        const iso = epochMsAsIso(text);
        if (micros > 8_640_000_000_000_000_000n || micros < -8_640_000_000_000_000_000n) {
          expect(iso, text).toBe(text);
          return;
        }
        expect(isoMicros(iso), `${text} → ${iso}`).toBe(micros);
      }),
      { numRuns: 20_000 },
    );
  });

  it('encodes text rows, escaping what COPY reads specially, NULL as \\N, numbered on request', () => {
    const rows = [
      ['é ✓', null],
      ['', 'line\nbreak \\ tab\t cr\r'],
    ];
    expect(encodeMappedText(rows).toString('utf8')).toBe('é ✓\t\\N\n\tline\\nbreak \\\\ tab\\t cr\\r\n');
    expect(encodeMappedText(rows, true).toString('utf8')).toBe(
      '0\té ✓\t\\N\n1\t\tline\\nbreak \\\\ tab\\t cr\\r\n',
    );
    expect(encodeMappedText([], true).length).toBe(0);
  });
});
