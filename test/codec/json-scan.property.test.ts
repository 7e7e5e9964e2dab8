/**
 * The scanner against JSON.parse: for any text, valid exactly when JSON.parse takes it (nesting
 * within the limit), and the top-level id, key, source and ts found where JSON.parse puts them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonScanner, SCAN_INVALID, SCAN_OK, SCAN_TOO_DEEP } from '../../src/codec/json-scan.js';

const scanner = new JsonScanner();

function scanText(text: string, maxDepth = 1000): number {
  const bytes = Buffer.from(text, 'utf8');
  return scanner.scan(bytes, 0, bytes.length, maxDepth);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, child) => Math.max(max, depthOf(child)), 0);
}

/** The value of a found field, as JSON.parse reads its slice; undefined when absent. */
function fieldValue(text: string, start: number, end: number): unknown {
  if (start < 0) return undefined;
  return JSON.parse(Buffer.from(text, 'utf8').subarray(start, end).toString('utf8'));
}

/** JSON text with whitespace where JSON allows it (spaces, tabs, CR, LF). */
const spaced = fc
  .tuple(fc.jsonValue(), fc.constantFrom(undefined, 1, '\t', ' \r\n '))
  .map(([value, space]) => JSON.stringify(value, null, space as string | number | undefined));

const members = fc.record(
  {
    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.jsonValue()),
    key: fc.oneof(fc.string(), fc.jsonValue()),
    source: fc.string({ unit: 'binary' }),
    ts: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string()),
    other: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe('JsonScanner', () => {
  it('takes every JSON text JSON.stringify writes, with any spacing', () => {
    fc.assert(
      fc.property(spaced, (text) => {
        expect(scanText(text)).toBe(SCAN_OK);
      }),
      { numRuns: 2000 },
    );
  });

  it('finds the top-level id, key, source and ts where JSON.parse puts them, the last duplicate winning', () => {
    fc.assert(
      fc.property(members, fc.jsonValue(), fc.boolean(), (fields, extra, duplicate) => {
        let text = JSON.stringify({ nested: { id: 'not-me', key: ['x'] }, ...fields });
        // A duplicate member, and an escaped name that still spells "id".
        if (duplicate)
          text = `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"\\u0069d":${JSON.stringify(extra)}}`;
        expect(scanText(text)).toBe(SCAN_OK);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(fieldValue(text, scanner.idStart, scanner.idEnd)).toEqual(parsed.id);
        expect(fieldValue(text, scanner.keyStart, scanner.keyEnd)).toEqual(parsed.key);
        expect(fieldValue(text, scanner.sourceStart, scanner.sourceEnd)).toEqual(parsed.source);
        expect(fieldValue(text, scanner.tsStart, scanner.tsEnd)).toEqual(parsed.ts);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with JSON.parse on texts with one character changed, removed or inserted', () => {
    const alphabet = fc.constantFrom(...'{}[]",:\\ 0123456789.eE+-tfrunalsx\t\n\u0001é');
    fc.assert(
      fc.property(spaced, fc.nat(), fc.integer({ min: 0, max: 2 }), alphabet, (text, at, edit, ch) => {
        const i = text.length === 0 ? 0 : at % text.length;
        const mutated =
          edit === 0
            ? text.slice(0, i) + ch + text.slice(i + 1)
            : edit === 1
              ? text.slice(0, i) + text.slice(i + 1)
              : text.slice(0, i) + ch + text.slice(i);
        const valid = parses(mutated) && depthOf(JSON.parse(mutated)) <= 1000;
        expect(scanText(mutated)).toBe(valid ? SCAN_OK : SCAN_INVALID);
      }),
      { numRuns: 5000 },
    );
  });

  it('finds each element of an array where JSON.parse puts it', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), fc.constantFrom(undefined, 2, '\t'), (items, space) => {
        const text = JSON.stringify(items, null, space);
        const bytes = Buffer.from(text, 'utf8');
        const elements: number[] = [];
        expect(scanner.scan(bytes, 0, bytes.length, 1000, false, elements)).toBe(SCAN_OK);
        const found = [];
        for (let i = 0; i < elements.length; i += 2) {
          found.push(JSON.parse(bytes.subarray(elements[i]!, elements[i + 1]!).toString('utf8')));
        }
        expect(found).toEqual(JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses nesting deeper than the limit, and takes it up to the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        (depth, limit, objects) => {
          const open = objects ? '{"a":' : '[';
          const close = objects ? '}' : ']';
          const text = `${open.repeat(depth - 1)}[]${close.repeat(depth - 1)}`;
          expect(scanText(text, limit)).toBe(depth > limit ? SCAN_TOO_DEEP : SCAN_OK);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses what JSON.parse refuses: trailing commas, raw control characters, bad escapes, leading zeros, bare words, two values', () => {
    for (const text of [
      '[1,]',
      '{"a":1,}',
      '"a\tb"',
      '"\\x"',
      '"\\u12g4"',
      '01',
      '-',
      '1.',
      '.5',
      '1e',
      'tru',
      'nul',
      '{} {}',
      '',
      ' ',
      '{"a" 1}',
      '[1 2]',
      "{'a':1}",
    ]) {
      expect([text, scanText(text)]).toEqual([text, SCAN_INVALID]);
      expect(parses(text)).toBe(false);
    }
  });

  it('reads every part of a number JSON allows, alone and inside arrays and objects, and nothing more', () => {
    const good = [
      '0',
      '-0',
      '7',
      '-12',
      '0.5',
      '-0.25',
      '10.01',
      '1e5',
      '1E+2',
      '2e-7',
      '-0.5e-07',
      '123.456e789',
    ];
    const bad = [
      '-',
      '+1',
      '01',
      '-01',
      '00',
      '1.',
      '.5',
      '1.e5',
      '1e',
      '1e+',
      '1E-',
      '1-',
      '1+',
      '1-2',
      '1e5.5',
      '0x1',
      '1..2',
      '--1',
    ];
    for (const number of [...good, ...bad]) {
      for (const text of [
        number,
        `[${number}]`,
        `[${number},1]`,
        `{"ts":${number}}`,
        `{"a":${number},"b":1}`,
      ]) {
        const expected = parses(text) ? SCAN_OK : SCAN_INVALID;
        expect([text, scanText(text)]).toEqual([text, expected]);
      }
    }
    // The cases above are what they say: JSON.parse takes every good number and refuses every bad one.
    expect(good.filter((n) => !parses(n))).toEqual([]);
    expect(bad.filter((n) => parses(`[${n}]`))).toEqual([]);
  });
});
