/**
 * A lazy payload behaves as the parsed object would, whatever a transform does to it, and what it
 * serialises to is what the parsed object would serialise to — while its text stays the prefix of
 * what is written as long as the transform only read scalars and added members.
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LazyPayload } from '../../src/codec/lazy-payload.js';

/** Top-level members of a JSON object's text, duplicates counted (what JSON.parse would hide). */
function memberCount(json: string): number {
  let depth = 0;
  let count = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ':' && depth === 1) count++;
  }
  return count;
}

/** Writes `value` with JSON's number text replaced where it asks: exact forms JavaScript loses. */
const HOSTILE_TEXTS = [
  '{"id":"x-big","big":12345678901234567890,"neg":-98765432109876543210}',
  '{"price":19.990000000000000001,"tiny":1e-400,"huge":1e400}',
  '{ "spaced" : { "n" : [ 1.0 , 2.50 , -0.0 ] } , "s" : "a" }\r\n',
  '{"ingested\\u0042y":"escaped key","k":1}',
  '{"nul":"a\\u0000b","lone":"\\ud800x"}',
  '{}',
  ' { } ',
  '{"__proto__":{"polluted":true},"x":1}',
  '{"0":"index","1":"one","b":2}',
  '{"dup":1,"dup":2,"other":"ingestedBy"}',
  '{"text":"contains \\"ingestedBy\\" as a value"}',
];

const keyArb = fc.oneof(
  fc.constantFrom(
    'ingestedBy',
    'id',
    'big',
    'dup',
    'nested',
    'x',
    'k',
    '0',
    '7',
    '__proto__',
    'toString',
    'toJSON',
    'ingested\u0042y',
  ),
  fc.string({ maxLength: 6 }),
);

const valueArb = fc.oneof(
  fc.constantFrom('sluice', 0, -0, 1.5, true, null, undefined),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constant(() => 1),
);

type Op =
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: unknown }
  | { op: 'setSame'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'has'; key: string }
  | { op: 'keys' }
  | { op: 'spread' }
  | { op: 'stringify' }
  | { op: 'mutateNested'; key: string }
  | { op: 'mutateAdded'; key: string }
  | { op: 'define'; key: string; value: unknown }
  | { op: 'freeze' }
  | { op: 'preventExtensions' }
  | { op: 'prototype' }
  | { op: 'setPrototype'; prototype: object | null };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: keyArb.map((key) => ({ op: 'get' as const, key })) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ op: 'setSame' as const, key })) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ op: 'delete' as const, key })) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ op: 'has' as const, key })) },
  { weight: 1, arbitrary: fc.constant({ op: 'keys' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'spread' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'stringify' as const }) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ op: 'mutateNested' as const, key })) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ op: 'mutateAdded' as const, key })) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('define' as const), key: keyArb, value: valueArb }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'freeze' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'preventExtensions' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'prototype' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('setPrototype' as const), prototype: prototypeArb() }),
  },
);

/**
 * Prototypes a transform may give the payload: one whose toJSON JSON.stringify calls in the
 * payload's place (a redaction), one with a setter that takes what is set, a plain one, none.
 */
function prototypeArb(): fc.Arbitrary<object | null> {
  return fc.constantFrom(
    {
      toJSON(this: Bag) {
        return { redacted: Object.keys(this).length };
      },
    },
    {
      set x(_value: unknown) {},
    },
    { inherited: 1 },
    null,
  );
}

/**
 * Whether `op` leaves the text describing the payload: a test of a key, or a read of a member the
 * text does not hold as an object or array (which could be changed in place once handed out).
 */
function keepsText(original: Bag, op: Op): boolean {
  if (op.op === 'has') return true;
  if (op.op !== 'get') return false;
  const value = Object.hasOwn(original, op.key) ? original[op.key] : undefined;
  return typeof value !== 'object' || value === null;
}

/**
 * Whether `op` adds a member the text does not hold, under an ordinary key (not an index), and not
 * a toJSON function: JSON.stringify writes what that returns in the payload's place.
 */
function addsMember(original: Bag, op: Op): boolean {
  return (
    op.op === 'set' &&
    !Object.hasOwn(original, op.key) &&
    op.key !== '__proto__' &&
    !/^(?:0|[1-9][0-9]*)$/.test(op.key) &&
    !(op.key === 'toJSON' && typeof op.value === 'function')
  );
}

type Bag = Record<string, unknown>;

/** Applies one op to a payload, returning what it observed (compared between the two payloads). */
function apply(target: Bag, op: Op): unknown {
  try {
    return applyOp(target, op);
  } catch (error) {
    // Setting __proto__ of an object that cannot be extended throws, for either payload alike.
    return `threw ${(error as Error).name}`;
  }
}

function applyOp(target: Bag, op: Op): unknown {
  switch (op.op) {
    case 'get': {
      const value = target[op.key];
      return typeof value === 'function' ? 'function' : value;
    }
    case 'set':
      return Reflect.set(target, op.key, op.value);
    case 'setSame':
      return Reflect.set(target, op.key, target[op.key]);
    case 'delete':
      return Reflect.deleteProperty(target, op.key);
    case 'has':
      return op.key in target;
    case 'keys':
      return Object.keys(target);
    case 'spread':
      return { ...target };
    case 'stringify':
      return JSON.stringify(target);
    case 'mutateNested': {
      const value = target[op.key];
      if (Array.isArray(value)) return Reflect.set(value, value.length, 'pushed');
      if (typeof value === 'object' && value !== null) return Reflect.set(value, 'changed', 1);
      return 'scalar';
    }
    case 'mutateAdded': {
      // An object the transform set, changed after it was set.
      const box: Bag = { first: 1 };
      Reflect.set(target, op.key, box);
      box.later = 2;
      return 'boxed';
    }
    case 'define':
      return Reflect.defineProperty(target, op.key, {
        value: op.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    case 'freeze':
      Object.freeze(target);
      return Object.isFrozen(target);
    case 'preventExtensions':
      Object.preventExtensions(target);
      return Object.isExtensible(target);
    case 'prototype':
      return [Object.getPrototypeOf(target) === Object.prototype, target instanceof Object];
    case 'setPrototype':
      return Reflect.setPrototypeOf(target, op.prototype);
  }
}

/** JSON.stringify's result, or the error it threw (a BigInt never appears; a cycle cannot). */
function serialised(run: () => string | undefined): string {
  try {
    return run() ?? '<undefined>';
  } catch (error) {
    return `<threw ${(error as Error).name}>`;
  }
}

function check(text: string, ops: Op[]): void {
  const reference = JSON.parse(text) as Bag;
  const original = JSON.parse(text) as Bag;
  const lazy = LazyPayload.over(text)!;
  expect(lazy).toBeDefined();
  const view = LazyPayload.proxyOf(lazy);
  for (const op of ops) {
    expect([op, apply(view, op)]).toEqual([op, apply(reference, op)]);
  }
  const written = serialised(() => LazyPayload.json(lazy));
  const expected = serialised(() => JSON.stringify(reference));
  // Same members, same values, same order as the parsed object would have been written with.
  expect(serialised(() => JSON.stringify(JSON.parse(written)))).toBe(expected);
  if (ops.every((op) => keepsText(original, op))) {
    // Nothing changed: the text itself, byte for byte.
    expect(written).toBe(text);
  }
  if (ops.every((op) => keepsText(original, op) || addsMember(original, op))) {
    // Only members added: the text up to its closing brace is kept, numbers exact.
    expect(written.startsWith(text.slice(0, text.lastIndexOf('}')).trimEnd())).toBe(true);
  }
  // No member written twice unless the text itself repeats one.
  if (memberCount(text) === Object.keys(original).length && !written.startsWith('<')) {
    expect(memberCount(written)).toBe(Object.keys(JSON.parse(expected) as Bag).length);
  }
}

const textArb = fc.oneof(
  fc.constantFrom(...HOSTILE_TEXTS),
  fc
    .tuple(fc.dictionary(keyArb, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), fc.boolean())
    .map(([object, spaced]) => (spaced ? JSON.stringify(object, null, 2) : JSON.stringify(object))),
);

describe('LazyPayload', () => {
  it('behaves and serialises as the parsed object, over random texts and transforms', () => {
    fc.assert(
      fc.property(textArb, fc.array(opArb, { maxLength: 8 }), (text, ops) => check(text, ops)),
      { numRuns: 3000, seed: 20261130 },
    );
  });

  it('over random seeds too', () => {
    fc.assert(
      fc.property(textArb, fc.array(opArb, { maxLength: 8 }), (text, ops) => check(text, ops)),
      { numRuns: 1000 },
    );
  });

  it('adds members to the text without parsing it: numbers beyond double precision stay exact', () => {
    const text = '{"id":"a","big":12345678901234567890,"tiny":1e-400}';
    const lazy = LazyPayload.over(text)!;
    const payload = LazyPayload.proxyOf(lazy);
    payload.ingestedBy = 'sluice';
    payload.count = 2;
    payload.skipped = undefined;
    expect(LazyPayload.json(lazy)).toBe(
      '{"id":"a","big":12345678901234567890,"tiny":1e-400,"ingestedBy":"sluice","count":2}',
    );
  });

  it('keeps the text when the transform reads only scalars, and serialises once it reads an object', () => {
    const text = '{"id":"a","big":12345678901234567890,"user":{"n":1}}';
    const lazy = LazyPayload.over(text)!;
    const payload = LazyPayload.proxyOf(lazy);
    expect(payload.id).toBe('a');
    payload.seen = true;
    expect(LazyPayload.json(lazy)).toBe('{"id":"a","big":12345678901234567890,"user":{"n":1},"seen":true}');
    (payload.user as Bag).n = 2;
    expect(LazyPayload.json(lazy)).toBe('{"id":"a","big":12345678901234567000,"user":{"n":2},"seen":true}');
  });

  it('replaces a member written with escapes rather than writing it twice', () => {
    const lazy = LazyPayload.over('{"ingested\\u0042y":"old"}')!;
    LazyPayload.proxyOf(lazy).ingestedBy = 'new';
    expect(LazyPayload.json(lazy)).toBe('{"ingestedBy":"new"}');
  });

  it('is not a view for arrays and scalars', () => {
    for (const text of ['[1,2]', ' [ ]', '"s"', '12', 'null', 'true'])
      expect(LazyPayload.over(text)).toBeUndefined();
  });

  it('shows its members when inspected, and is refused by structuredClone', () => {
    const payload = LazyPayload.proxyOf(LazyPayload.over('{"a":1,"b":[2]}')!);
    expect(inspect(payload)).toBe(inspect({ a: 1, b: [2] }));
    expect(() => structuredClone(payload)).toThrow(/could not be cloned/);
    expect(structuredClone({ ...payload })).toEqual({ a: 1, b: [2] });
  });

  it('writes what a toJSON the transform gives the payload returns, as JSON.stringify does: the text is not written', () => {
    const text = '{"card":"4111111111111111","big":12345678901234567890}';
    const redact = (payload: Bag) => {
      payload.toJSON = () => ({ redacted: true });
    };
    // Set before anything parsed the text, and after.
    const unparsed = LazyPayload.over(text)!;
    redact(LazyPayload.proxyOf(unparsed));
    expect(LazyPayload.json(unparsed)).toBe('{"redacted":true}');
    const parsed = LazyPayload.over(text)!;
    expect(LazyPayload.proxyOf(parsed).card).toBe('4111111111111111');
    redact(LazyPayload.proxyOf(parsed));
    expect(LazyPayload.json(parsed)).toBe('{"redacted":true}');
    // Inherited from a prototype the transform sets.
    const inherited = LazyPayload.over(text)!;
    Object.setPrototypeOf(LazyPayload.proxyOf(inherited), { toJSON: () => 'replaced' });
    expect(LazyPayload.json(inherited)).toBe('"replaced"');
    // A toJSON that is not a function is a member like any other, added to the text.
    const member = LazyPayload.over(text)!;
    LazyPayload.proxyOf(member).toJSON = 'a string';
    expect(LazyPayload.json(member)).toBe(
      '{"card":"4111111111111111","big":12345678901234567890,"toJSON":"a string"}',
    );
  });

  it('throws as JSON.stringify does for a member that cannot be written', () => {
    const lazy = LazyPayload.over('{"a":1}')!;
    LazyPayload.proxyOf(lazy).n = 10n;
    expect(() => LazyPayload.json(lazy)).toThrow(TypeError);
  });
});
