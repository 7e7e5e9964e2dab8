/**
 * A transform's outputs are held to push()'s rules for id, key, source and ts: absent, each is the
 * input's; given, it must be what push() would take, or the event is dead-lettered as
 * `invalid-transform-output` naming the field and the value — never the input's put silently in
 * its place (a numeric id or key) nor written as something else (a NaN ts as null).
 */
import { describe, expect, it } from 'vitest';
import type { DecodedEvent, SinkRecord } from '../../src/codec/event.js';
import type { DeadLetter } from '../../src/delivery/dead-letter.js';
import { applyTransform } from '../../src/transforms/apply-transform.js';
import type { LoadedTransform } from '../../src/transforms/transform.js';

function run(map: LoadedTransform['map']): { out: SinkRecord[]; letters: DeadLetter[] } {
  const event: DecodedEvent = { id: 'in-1', key: 'input-key', source: 'src', ts: 1000, payload: { n: 1 } };
  const out: SinkRecord[] = [];
  const letters: DeadLetter[] = [];
  expect(
    applyTransform({ map, validate: undefined, lazyPayload: false }, event, out, letters),
  ).toBeUndefined();
  return { out, letters };
}

describe('transform output fields', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a numeric id', { id: 1001 }, 'transform output 0: id must be a string, got 1001'],
    ['an empty id', { id: '' }, 'transform output 0: id must not be empty'],
    ['a null id', { id: null }, 'transform output 0: id must be a string, got null'],
    ['a numeric key', { key: 7 }, 'transform output 0: key must be a string, got 7'],
    ['an object key', { key: { k: 1 } }, 'transform output 0: key must be a string, got {"k":1}'],
    ['a boolean source', { source: true }, 'transform output 0: source must be a string, got true'],
    [
      'a NaN ts',
      { ts: Number.NaN },
      'transform output 0: ts must be a finite number of milliseconds, got NaN',
    ],
    [
      'an Infinity ts',
      { ts: Number.POSITIVE_INFINITY },
      'transform output 0: ts must be a finite number of milliseconds, got Infinity',
    ],
    [
      'a -Infinity ts',
      { ts: Number.NEGATIVE_INFINITY },
      'transform output 0: ts must be a finite number of milliseconds, got -Infinity',
    ],
    [
      'a string ts',
      { ts: '2024-05-01T00:00:00Z' },
      'transform output 0: ts must be a finite number of milliseconds, got "2024-05-01T00:00:00Z"',
    ],
    ['a BigInt ts', { ts: 5n }, 'transform output 0: ts must be a finite number of milliseconds, got 5n'],
  ])('dead-letters an output with %s, naming the field and the value', (_what, fields, lastError) => {
    const { out, letters } = run((e) => ({ payload: e.payload, ...fields }) as never);
    expect(out).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      reason: 'invalid-transform-output',
      event: { id: 'in-1', key: 'input-key', source: 'src', ts: 1000 },
      lastError,
    });
  });

  it('holds the input changed in place and returned to the same rules', () => {
    const { out, letters } = run((e) => {
      (e as { key: unknown }).key = 7;
      return e;
    });
    expect(out).toEqual([]);
    expect(letters[0]?.lastError).toBe('transform output 0: key must be a string, got 7');
  });

  it('dead-letters the whole event when one of several outputs is bad, writing none of them', () => {
    const { out, letters } = run(() => [{ payload: 1 }, { payload: 2, ts: Number.NaN }]);
    expect(out).toEqual([]);
    expect(letters.map((l) => l.lastError)).toEqual([
      'transform output 1: ts must be a finite number of milliseconds, got NaN',
    ]);
    expect(letters[0]?.event.id).toBe('in-1');
  });

  it('takes what push() takes, and the input’s fields for those left out', () => {
    const { out, letters } = run((e) => [
      { id: 'out-a', key: 'k2', source: 's2', ts: 0, payload: e.payload },
      { payload: 2 },
      e,
    ]);
    expect(letters).toEqual([]);
    expect(out).toEqual([
      { id: 'out-a', key: 'k2', source: 's2', ts: 0, payload: { n: 1 } },
      { id: 'in-1:1', key: 'input-key', source: 'src', ts: 1000, payload: 2 },
      { id: 'in-1', key: 'input-key', source: 'src', ts: 1000, payload: { n: 1 } },
    ]);
  });

  it('writes what it checked: each member of an output is read once', () => {
    // A getter that answers with a good id the first time and a lone surrogate after.
    let reads = 0;
    const { out, letters } = run((e) => ({
      payload: e.payload,
      get id(): string {
        reads++;
        return reads === 1 ? 'checked' : 'unchecked-\uD800';
      },
    }));
    expect(letters).toEqual([]);
    expect(out.map((r) => r.id)).toEqual(['checked']);
    expect(reads).toBe(1);
  });

  it('keeps a copy of a route array, its names read once', () => {
    const names = ['a', 'b'];
    const { out } = run((e) => ({ payload: e.payload, route: names }));
    expect(out[0]?.route).toEqual(['a', 'b']);
    expect(out[0]?.route).not.toBe(names);
  });
});
