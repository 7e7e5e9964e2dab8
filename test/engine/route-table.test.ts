/**
 * RouteTable, on its own: names, rules and the default, and the shapes a transform or an event can
 * bring that must not crash a worker or grow a dead letter without bound.
 */
import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { TextRecord } from '../../src/codec/text-record.js';
import type { ResolvedRoute } from '../../src/config/route-options.js';
import { DEFAULT_RETRY_OPTIONS } from '../../src/delivery/retry-options.js';
import { RouteTable } from '../../src/engine/route-table.js';
import { prng } from '../../src/harness/prng.js';

const route = (when?: ResolvedRoute['when']): ResolvedRoute => ({
  sink: { type: 'null' },
  retry: { ...DEFAULT_RETRY_OPTIONS },
  ...(when ? { when } : {}),
});
const record = (payload: unknown, extra: Partial<SinkRecord> = {}): SinkRecord => ({
  id: 'x',
  payload,
  ...extra,
});

describe('RouteTable', () => {
  const table = new RouteTable(
    {
      a: route({ path: 'payload.kind', equals: 'a' }),
      b: route({ path: 'payload.n', in: [1, 2, null] }),
      c: route({ path: 'source', matches: '^c' }),
      d: route(),
    },
    'd',
  );

  it('names win over rules; rules fan out; the default takes the rest', () => {
    expect(table.choose(record({ kind: 'a' }, { route: 'b' }))).toBe(1);
    expect(table.choose(record({ kind: 'a' }, { route: ['c', 'a', 'c'] }))).toEqual([2, 0]);
    expect(table.choose(record({ kind: 'a', n: 2 }, { source: 'cx' }))).toEqual([0, 1, 2]);
    expect(table.choose(record({ n: null }))).toBe(1);
    // An absent field matches nothing, not even null; 1 is not "1".
    expect(table.choose(record({}))).toBe(3);
    expect(table.choose(record({ n: '1' }))).toBe(3);
    expect(table.choose(record([1, 2]))).toBe(3);
  });

  it('reads a text record’s payload once, as JSON', () => {
    const bytes = Buffer.from('{"kind":"a","n":12345678901234567890}');
    expect(table.choose(new TextRecord('t', undefined, undefined, undefined, bytes, 0, bytes.length))).toBe(
      0,
    );
  });

  it('hostile names: a lone surrogate, __proto__, 100 000 names, a 1 MB name — an unknown-route reason of bounded size', () => {
    for (const name of ['\uD800', '__proto__', 'constructor', 'x'.repeat(1_000_000)]) {
      const choice = table.choose(record({}, { route: name }));
      expect(choice).toHaveProperty('unknown');
      expect(JSON.stringify(choice).length).toBeLessThan(400);
    }
    const many = table.choose(record({}, { route: Array.from({ length: 100_000 }, (_, i) => `r${i}`) }));
    expect((many as { unknown: string }).unknown).toMatch(
      /^no route named "r0", "r1", "r2" and 99997 more \(routes: a, b, c, d\)$/,
    );
    expect(table.choose(record({}, { route: Array(100_000).fill('a') }))).toBe(0);
  });

  it('hostile payloads: prototype keys are not fields; deep and odd values never throw', () => {
    const proto = new RouteTable(
      { p: route({ path: 'payload.constructor.name', equals: 'Object' }) },
      undefined,
    );
    expect(proto.choose(record({}))).toHaveProperty('unknown');
    const own = new RouteTable({ p: route({ path: 'payload.__proto__', equals: 1 }) }, undefined);
    expect(own.choose(record(JSON.parse('{"__proto__":1}')))).toBe(0);
    let deep: unknown = 'a';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const random = prng(11);
    const values = [deep, null, 0, -0, Number.NaN, '', '\u0000', '\uDFFF', true, [], {}, 'c'.repeat(100_000)];
    for (let i = 0; i < 2_000; i++) {
      const pick = () => values[Math.floor(random() * values.length)];
      const payload = { kind: pick(), n: pick() };
      expect(() => table.choose(record(payload, { source: pick() as string }))).not.toThrow();
    }
  });
});
