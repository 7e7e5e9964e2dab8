/**
 * stripMembers against a model: random JSON texts whose objects hold, at any depth, members named
 * `__proto__`, `constructor` or `prototype` (some spelled with escapes) beside others. What it
 * leaves is valid JSON, holds exactly the other members in their order, and every number the kept
 * members hold is there digit for digit — numbers past a double's precision included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stripMembers } from '../../src/codec/json-strip-members.js';

const NAMES = new Set(['__proto__', 'constructor', 'prototype']);

type Node =
  | { t: 'obj'; members: { name: string; spelling: string; value: Node }[] }
  | { t: 'arr'; items: Node[] }
  | { t: 'leaf'; text: string };

/** Member names: the three to drop (plainly and escaped), near misses, and others. */
const names = fc.constantFrom(
  ['__proto__', '"__proto__"'],
  ['__proto__', '"__pro\\u0074o__"'],
  ['constructor', '"constructor"'],
  ['constructor', '"\\u0063onstructor"'],
  ['prototype', '"prototype"'],
  ['prototypes', '"prototypes"'],
  ['_proto_', '"_proto_"'],
  ['id', '"id"'],
  ['a', '"a"'],
  ['tag', '"tag"'],
  ['q"x', '"q\\"x"'],
);

const leaf = fc.oneof(
  fc.constantFrom('true', 'false', 'null', '"constructor"', '"__proto__"', '""', '"a\\nb"', '"\\\\"'),
  // Numbers no double holds exactly, and plain ones.
  fc
    .tuple(
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
      fc.constantFrom('', '.000000000000000000001', 'e-400', 'E+5'),
    )
    .map(([n, tail]) => `${n}${tail}`),
  fc.integer().map(String),
);

const tree = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf.map((text): Node => ({ t: 'leaf', text })),
    fc.array(tie('node'), { maxLength: 4 }).map((items): Node => ({ t: 'arr', items })),
    fc.array(fc.tuple(names, tie('node')), { maxLength: 5 }).map(
      (pairs): Node => ({
        t: 'obj',
        members: pairs.map(([[name, spelling], value]) => ({ name, spelling, value })),
      }),
    ),
  ),
})).node;

function write(node: Node, sp: string, drop: boolean): string {
  if (node.t === 'leaf') return node.text;
  if (node.t === 'arr') return `[${sp}${node.items.map((n) => write(n, sp, drop)).join(`${sp},${sp}`)}${sp}]`;
  const kept = node.members.filter((m) => !(drop && NAMES.has(m.name)));
  return `{${sp}${kept.map((m) => `${m.spelling}${sp}:${sp}${write(m.value, sp, drop)}`).join(`${sp},${sp}`)}${sp}}`;
}

/** The number literals of a JSON text, in order (its strings hold no digits but \u escapes). */
function numbers(text: string): string[] {
  return text.replace(/\\u[0-9a-fA-F]{4}/g, '').match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) ?? [];
}

function hasDropped(node: Node): boolean {
  if (node.t === 'leaf') return false;
  if (node.t === 'arr') return node.items.some(hasDropped);
  return node.members.some((m) => NAMES.has(m.name) || hasDropped(m.value));
}

describe('stripMembers', () => {
  it('leaves valid JSON with exactly the other members, numbers digit for digit, whatever the spacing', () => {
    fc.assert(
      fc.property(tree, fc.constantFrom('', ' ', '\n\t ', '\r\n'), (node, sp) => {
        const text = write(node, sp, false);
        const out = stripMembers(Buffer.from(text), NAMES);
        if (!hasDropped(node)) {
          expect(out).toBeUndefined();
          return;
        }
        const result = out!.toString('utf8');
        const expected = write(node, '', true);
        expect(JSON.parse(result)).toEqual(JSON.parse(expected));
        expect(numbers(result)).toEqual(numbers(expected));
        JSON.parse(result, (key, value: unknown) => {
          expect(NAMES.has(key)).toBe(false);
          return value;
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('walks a text nested 20 000 deep with members to drop at its top and bottom, without a stack', () => {
    const depth = 20_000;
    const text = `{"__proto__":1,"a":${'['.repeat(depth)}{"x":2,"constructor":{"y":3}}${']'.repeat(depth)},"prototype":[]}`;
    const out = stripMembers(Buffer.from(text), NAMES)!.toString('utf8');
    expect(out).toBe(`{"a":${'['.repeat(depth)}{"x":2}${']'.repeat(depth)}}`);
  });

  it('keeps every other byte as sent: invalid UTF-8, NUL escapes and lone surrogates in kept members', () => {
    const text = Buffer.concat([
      Buffer.from('{"id":"u'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","s":"\\ud800\\u0000","prototype":{"p":1},"n":12345678901234567890}'),
    ]);
    const out = stripMembers(text, NAMES)!;
    expect(out).toEqual(
      Buffer.concat([
        Buffer.from('{"id":"u'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('","s":"\\ud800\\u0000","n":12345678901234567890}'),
      ]),
    );
  });
});
