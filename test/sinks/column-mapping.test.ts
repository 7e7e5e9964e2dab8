import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnExtractor, type ColumnValue, parseColumnPath } from '../../src/sinks/column-mapping.js';

/** The value one path alone reads from a payload's JSON text. */
function valueAt(json: string, keys: readonly string[]): ColumnValue {
  return new ColumnExtractor({ c: ['payload', ...keys].join('.') }).values({
    id: 'x',
    payload: undefined,
    payloadJson: json,
  })[0]!;
}

/** What valueAt should give for `keys` in `value`, navigating the parsed value (numbers as JSON writes them). */
function expected(value: unknown, keys: readonly string[]): unknown {
  let at: unknown = value;
  for (const key of keys) {
    if (Array.isArray(at)) at = /^(0|[1-9]\d*)$/.test(key) ? at[Number(key)] : undefined;
    else if (at !== null && typeof at === 'object')
      at = Object.hasOwn(at, key) ? (at as Record<string, unknown>)[key] : undefined;
    else at = undefined;
  }
  if (at === undefined || at === null) return { kind: 'null' };
  if (typeof at === 'string') return { kind: 'string', value: at };
  if (typeof at === 'boolean') return { kind: 'boolean', value: at };
  if (typeof at === 'number') return { kind: 'number', text: JSON.stringify(at) };
  return { kind: 'json', text: JSON.stringify(at) };
}

describe('column values from a payload’s JSON text', () => {
  it('finds what a parse would find, at any path, for any JSON value', () => {
    const keyArb = fc.constantFrom('a', 'b', 'c', '0', '1', 'x y', 'é', '"q"');
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.array(keyArb, { maxLength: 4 }),
        fc.boolean(),
        (value, keys, spaced) => {
          const json = JSON.stringify(value, null, spaced ? 2 : undefined);
          const got = valueAt(json, keys);
          const want = expected(value, keys) as { kind: string; text?: string };
          // An object or array comes as it was written, spaces and all: the same value, parsed.
          if (got.kind === 'json' && want.kind === 'json')
            expect(JSON.parse(got.text)).toEqual(JSON.parse(want.text!));
          else expect(got).toEqual(want);
        },
      ),
      { numRuns: 500, seed: 20_261_130 },
    );
  });

  it('keeps numbers, objects and arrays as they were written: big integers and long decimals exact', () => {
    const json =
      '{"amount": 19.990000000000000001, "big": 12345678901234567890, "tiny": 1e-400, "o": {"k": [1, 2.50]}}';
    expect(valueAt(json, ['amount'])).toEqual({ kind: 'number', text: '19.990000000000000001' });
    expect(valueAt(json, ['big'])).toEqual({ kind: 'number', text: '12345678901234567890' });
    expect(valueAt(json, ['tiny'])).toEqual({ kind: 'number', text: '1e-400' });
    expect(valueAt(json, ['o'])).toEqual({ kind: 'json', text: '{"k": [1, 2.50]}' });
    expect(valueAt(json, ['o', 'k', '1'])).toEqual({ kind: 'number', text: '2.50' });
  });

  it('takes the last of duplicate keys, as JSON.parse does, and decodes escapes in keys and strings', () => {
    expect(valueAt('{"a":1,"a":2}', ['a'])).toEqual({ kind: 'number', text: '2' });
    expect(valueAt('{"\\u0061":"\\u00e9\\n"}', ['a'])).toEqual({ kind: 'string', value: 'é\n' });
  });
});

describe('ColumnExtractor', () => {
  it('reads every mapped path in one pass exactly as each path alone would be read', () => {
    const keyArb = fc.constantFrom('a', 'b', 'c', '0', '1', 'x y', 'é', '"q"');
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.uniqueArray(fc.array(keyArb, { maxLength: 3 }), {
          minLength: 1,
          maxLength: 6,
          selector: (k) => k.join('.'),
        }),
        fc.boolean(),
        fc.boolean(),
        (value, paths, spaced, duplicateKeys) => {
          let json = JSON.stringify(value, null, spaced ? 2 : undefined);
          // A repeated member name: the last one counts, as for JSON.parse.
          if (duplicateKeys && json.startsWith('{') && json.length > 2)
            json = `{"a":{"b":1},${json.slice(1)}`;
          const map = Object.fromEntries(paths.map((keys, i) => [`c${i}`, ['payload', ...keys].join('.')]));
          const extractor = new ColumnExtractor(map);
          const got = extractor.values({ id: 'x', payload: undefined, payloadJson: json });
          expect(got).toEqual(paths.map((keys) => valueAt(json, keys)));
        },
      ),
      { numRuns: 500, seed: 20_261_130 },
    );
  });

  it('maps envelope fields and payload paths to values, in column order', () => {
    const extractor = new ColumnExtractor({
      order_id: 'id',
      customer: 'payload.customer.id',
      amount: 'payload.amount',
      created_at: 'ts',
      origin: 'source',
      raw: 'payload',
    });
    expect(extractor.columns).toEqual(['order_id', 'customer', 'amount', 'created_at', 'origin', 'raw']);
    const payloadJson = '{"customer":{"id":"c-7"},"amount":12.50}';
    expect(extractor.values({ id: 'o-1', ts: 1_700_000_000_000, payload: undefined, payloadJson })).toEqual([
      { kind: 'string', value: 'o-1' },
      { kind: 'string', value: 'c-7' },
      { kind: 'number', text: '12.50' },
      { kind: 'number', text: '1700000000000' },
      { kind: 'null' },
      { kind: 'json', text: payloadJson },
    ]);
  });

  it('refuses a record whose mapped string holds a lone surrogate, alone and naming the column', () => {
    const extractor = new ColumnExtractor({ id: 'id', note: 'payload.note' });
    expect(() =>
      extractor.values({ id: 'r-1', payload: undefined, payloadJson: '{"note":"a\\udc00b"}' }),
    ).toThrow(
      expect.objectContaining({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        perRecord: true,
        message: 'record r-1: column note: a string holding a lone UTF-16 surrogate cannot be stored as text',
      }),
    );
    // A well-formed pair is a character like any other.
    expect(
      extractor.values({ id: 'r-2', payload: undefined, payloadJson: '{"note":"\\ud83d\\ude00"}' })[1],
    ).toEqual({
      kind: 'string',
      value: '😀',
    });
  });

  it('refuses a path that names nothing of an event', () => {
    expect(parseColumnPath('payload..a')).toBe('a path without empty segments (payload.a.b)');
    expect(parseColumnPath('body.a')).toBe('a path starting with id, key, source, ts or payload');
    expect(() => new ColumnExtractor({ c: 'nope' })).toThrow(
      'column c: a path starting with id, key, source, ts or payload',
    );
  });
});
