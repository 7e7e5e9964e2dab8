/**
 * decodeParsed — a raw line checked by JSON.parse and its fields read off the parsed object — against
 * the two steps it stands for (decodeFields' scan, then JSON.parse): over hostile lines of bytes, the
 * same event (id, key, source, ts, payload) or the same failure (reason, message, the line's ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeFailure,
  decodeEvent,
  decodeFields,
  decodeParsed,
  LINE_FIELDS,
  nestsAtMost,
  type RecordFields,
} from '../../src/codec/decode-event.js';
import type { DecodedEvent } from '../../src/codec/event.js';
import { JsonScanner, SCAN_TOO_DEEP } from '../../src/codec/json-scan.js';

type Outcome =
  | { event: DecodedEvent }
  | { reason: string; message: string; ts: number | undefined; name: string };

function outcome(decode: () => DecodedEvent): Outcome {
  try {
    return { event: decode() };
  } catch (error) {
    if (!(error instanceof DecodeFailure)) throw error;
    return { reason: error.reason, message: error.message, ts: error.ts, name: error.name };
  }
}

function expectSame(actual: Outcome, expected: Outcome, line: Buffer): void {
  const shown = line.toString('latin1').slice(0, 300);
  if ('event' in expected) {
    expect('event' in actual ? undefined : actual, shown).toBeUndefined();
    const a = (actual as { event: DecodedEvent }).event;
    const e = expected.event;
    expect([a.id, a.key, a.source], shown).toEqual([e.id, e.key, e.source]);
    // -0 and 0 are different times: compared as they are.
    expect(Object.is(a.ts, e.ts), `${shown}: ts ${a.ts} against ${e.ts}`).toBe(true);
    expect(a.payload, shown).toStrictEqual(e.payload);
  } else {
    expect(actual, shown).toEqual(expected);
  }
}

const reference = new JsonScanner();
const scanner = new JsonScanner();

/** Both ways over `bytes` [0, lineEnd): the record as the ring holds it, the text as a worker reads it. */
function compare(bytes: Buffer, lineEnd: number, record: RecordFields, maxDepth: number): void {
  const text = bytes.toString('utf8', 0, lineEnd);
  const expected = outcome(() => {
    const fields = decodeFields(reference, bytes, 0, lineEnd, record, maxDepth);
    return { ...fields, payload: JSON.parse(text) as unknown };
  });
  expectSame(
    outcome(() => decodeParsed(scanner, record, text, maxDepth, bytes, 0, lineEnd)),
    expected,
    bytes.subarray(0, lineEnd),
  );
}

// Pieces of hostile JSON, as bytes: each is valid where a value goes unless it says otherwise.
const utf8 = (s: string) => Buffer.from(s, 'utf8');
/** Bytes that are not UTF-8 (a lone continuation byte, a cut sequence, an encoded surrogate, 0xFF). */
const badBytes = fc.constantFrom(
  Buffer.from([0x80]),
  Buffer.from([0xc3]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xff]),
  Buffer.from([0xf0, 0x9f, 0x98]),
);
/** String contents: plain, multi-byte, escapes (a lone surrogate, NUL), a real U+FFFD, bad bytes. */
const stringPart = fc.oneof(
  fc.string({ maxLength: 6 }).map((s) => utf8(JSON.stringify(s).slice(1, -1))),
  fc.constantFrom(
    utf8('\\ud800'),
    utf8('\\udfff\\ud800'),
    utf8('\\u0000'),
    utf8('\\"'),
    utf8('\uFFFD'),
    utf8('é'),
    utf8('😀'),
    utf8('\\u00e9'),
    utf8('x'.repeat(85)),
    utf8('é'.repeat(43)),
  ),
  badBytes,
);
const jsonString = fc
  .array(stringPart, { maxLength: 5 })
  .map((parts) => Buffer.concat([utf8('"'), ...parts, utf8('"')]));
/** Numbers as written: exact integers past 2^53, fractions, exponents, -0, out of range. */
const jsonNumber = fc.oneof(
  fc.integer().map((n) => utf8(String(n))),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => utf8(JSON.stringify(n))),
  fc
    .constantFrom(
      '12345678901234567890',
      '-12345678901234567890',
      '42.0',
      '4.2e1',
      '-0',
      '0',
      '1e400',
      '-1e400',
      '1e-400',
      '19.990000000000000001',
      '1700000000000',
    )
    .map(utf8),
);
const scalar = fc.oneof(jsonString, jsonNumber, fc.constantFrom('true', 'false', 'null').map(utf8));
/** A member name: the fields the decoder reads (some spelled with escapes), others, `__proto__`. */
const memberName = fc
  .constantFrom(
    '"id"',
    '"key"',
    '"source"',
    '"ts"',
    '"\\u0069d"',
    '"k\\u0065y"',
    '"__proto__"',
    '"payload"',
    '"Id"',
  )
  .map(utf8);
const value: fc.Arbitrary<Buffer> = fc.letrec<{ value: Buffer }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc
      .array(tie('value'), { maxLength: 3 })
      .map((items) => Buffer.concat([utf8('['), ...join(items), utf8(']')])),
    // Nested objects may have an `id` of their own, or a `key`: not the line's.
    fc
      .array(fc.tuple(fc.oneof(jsonString, memberName), tie('value')), { maxLength: 3 })
      .map((pairs) => object(pairs)),
  ),
})).value;

function join(items: Buffer[]): Buffer[] {
  return items.flatMap((item, i) => (i === 0 ? [item] : [utf8(','), item]));
}

/** An object of the members, each name and value apart by `colon` (whitespace JSON allows around it). */
function object(members: [Buffer, Buffer][], colon = ':'): Buffer {
  return Buffer.concat([
    utf8('{'),
    ...join(members.map(([name, v]) => Buffer.concat([name, utf8(colon), v]))),
    utf8('}'),
  ]);
}

const colon = fc.constantFrom(':', ':', ' : ', '\t:\r\n');
/** A line's object: its members (the fields, duplicates allowed) apart by some colon. */
const lineObject = (min: number, max: number) =>
  fc
    .tuple(fc.array(fc.tuple(memberName, fieldValue), { minLength: min, maxLength: max }), colon)
    .map(([members, c]) => object(members, c));

/** A field's value: any JSON value, weighted towards the shapes that decide a field. */
const fieldValue = fc.oneof(scalar, value, jsonString, jsonNumber);

/** A line: an object of fields (duplicates allowed), any other value, or broken JSON. */
const line = fc.oneof(
  { weight: 6, arbitrary: lineObject(0, 6) },
  { weight: 1, arbitrary: value },
  {
    weight: 2,
    arbitrary: fc
      .tuple(lineObject(1, 4), fc.nat(), badBytes, fc.constantFrom(0, 1, 2, 3))
      .map(([text, at, bad, how]) => {
        const cut = at % text.length;
        // Cut short, a bad byte outside a string, a stray character, a trailing comma.
        if (how === 0) return text.subarray(0, cut);
        if (how === 1) return Buffer.concat([text.subarray(0, cut), bad, text.subarray(cut)]);
        if (how === 2) return Buffer.concat([text, utf8('x')]);
        return Buffer.concat([text.subarray(0, -1), utf8(',}')]);
      }),
  },
);
/** Whitespace JSON allows, and a CR a line may keep. */
const padded = fc
  .tuple(fc.constantFrom('', ' ', '\t', '\r\n '), line, fc.constantFrom('', ' ', '\r'))
  .map(([before, body, after]) => Buffer.concat([utf8(before), body, utf8(after)]));

/** The record the ring holds for a line: raw, with no id, an id stored beside the line, or a key. */
const recordShape = fc.constantFrom('line', 'stored-id', 'bad-stored-id', 'key', 'pushed');

function recordFor(shape: string, lineBytes: Buffer): { bytes: Buffer; record: RecordFields } {
  if (shape === 'stored-id' || shape === 'bad-stored-id') {
    const stored = shape === 'stored-id' ? utf8('file.ndjson:1024') : Buffer.from([0x61, 0xff]);
    return {
      bytes: Buffer.concat([lineBytes, stored]),
      record: { ...LINE_FIELDS, idOffset: lineBytes.length, idLength: stored.length },
    };
  }
  if (shape === 'key') return { bytes: lineBytes, record: { ...LINE_FIELDS, key: 'given-key' } };
  if (shape === 'pushed') {
    return { bytes: lineBytes, record: { id: 'pushed-id', key: undefined, source: 's', ts: 5, raw: false } };
  }
  return { bytes: lineBytes, record: LINE_FIELDS };
}

/** compare() for a line read as `shape` holds it; a pushed record only for a line that parses. */
function compareAs(lineBytes: Buffer, shape: string, maxDepth: number): void {
  const { bytes, record } = recordFor(shape, lineBytes);
  // Pushed records are always valid JSON (push() serialised them): only lines that parse.
  if (!record.raw) {
    try {
      JSON.parse(lineBytes.toString('utf8'));
    } catch {
      return;
    }
  }
  compare(bytes, lineBytes.length, record, maxDepth);
}

describe('decodeParsed', () => {
  it('gives what the scan and then JSON.parse give, for hostile lines, every record shape, over many seeds', () => {
    fc.assert(fc.property(padded, recordShape, fc.constantFrom(1000, 1000, 3, 12), compareAs), {
      numRuns: 20000,
    });
  });

  it('takes an integer id as written from plain lines — nested ids, "id" as a value, spacing, fractions, exponents — as the scan does', () => {
    // No backslash anywhere: where the text shows an integer id plainly, it is read off the text.
    const plainNumber = fc.oneof(
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
      fc.constantFrom(
        '0',
        '-0',
        '42',
        '42.0',
        '4.2e1',
        '1E2',
        '9007199254740993',
        '1e400',
        `1${'0'.repeat(300)}`,
      ),
    );
    const plainString = fc.constantFrom('"id"', '"x"', '"i d"', '"é😀"', '""');
    const plainName = fc.constantFrom('"id"', '"id"', '"key"', '"ts"', '"source"', '"n"', '"Id"');
    const plainValue: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        plainNumber,
        plainString,
        fc
          .array(fc.tuple(plainName, tie('v')), { maxLength: 3 })
          .map((m) => `{${m.map(([k, v]) => `${k}:${v}`).join(',')}}`),
        fc.array(tie('v'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
      ),
    })).v;
    const plainLine = fc
      .tuple(
        fc.array(fc.tuple(plainName, plainValue), { maxLength: 5 }),
        fc.constantFrom(':', ' : ', '\n:\t'),
      )
      .map(([members, c]) => `{${members.map(([k, v]) => `${k}${c}${v}`).join(', ')}}`);
    fc.assert(
      fc.property(plainLine, recordShape, (text, shape) => {
        const { bytes, record } = recordFor(shape, utf8(text));
        compare(bytes, utf8(text).length, record, 1000);
      }),
      { numRuns: 10000 },
    );
  });

  it('reads the fields off the parsed line where the object tells them, and asks the scan where it cannot', () => {
    const text = '{"id":"a1","key":"k","source":"s","ts":1700000000000,"n":12345678901234567890}';
    const event = decodeParsed(new JsonScanner(), LINE_FIELDS, text, 1000);
    expect(event).toEqual({ id: 'a1', key: 'k', source: 's', ts: 1700000000000, payload: JSON.parse(text) });
    // An integer id is the digits as written, which the parsed number no longer holds.
    expect(decodeParsed(new JsonScanner(), LINE_FIELDS, '{"id":12345678901234567890}', 1000).id).toBe(
      '12345678901234567890',
    );
    // A fraction names no single id: the scan's words.
    expect(() => decodeParsed(new JsonScanner(), LINE_FIELDS, '{"id":42.0}', 1000)).toThrow(
      /must be a string or an integer/,
    );
    // Bytes that are not UTF-8 in an id: refused, where a real U+FFFD is taken.
    const bad = Buffer.concat([utf8('{"id":"a'), Buffer.from([0xff]), utf8('"}')]);
    expect(() =>
      decodeParsed(new JsonScanner(), LINE_FIELDS, bad.toString('utf8'), 1000, bad, 0, bad.length),
    ).toThrow(/must be valid UTF-8/);
    expect(decodeEvent(LINE_FIELDS, '{"id":"a\uFFFD"}', 1000).id).toBe('a\uFFFD');
    // Deeper than maxDepth is refused as the scan refuses it, however the line is read.
    expect(() => decodeEvent(LINE_FIELDS, '[[[[1]]]]', 3)).toThrow(/more than 3 levels deep/);
  });

  it('parses a line longer than the depth limit without the scan only when its brackets cannot nest deeper, over many seeds', () => {
    // Lines longer than small limits, brackets in strings and in structure, nested just below,
    // at and past the limit: the same event or failure as scan-then-parse, raw or pushed.
    const bracketText = fc
      .array(fc.constantFrom('[', '{', ']', '}', 'x'.repeat(40), 'é', '"', '\\'), { maxLength: 6 })
      .map((parts) => utf8(JSON.stringify(parts.join(''))));
    const nested = fc
      .tuple(fc.array(fc.constantFrom('[', '{"n":'), { minLength: 0, maxLength: 14 }), scalar)
      .map(([opens, inner]) =>
        Buffer.concat([
          utf8(opens.join('')),
          inner,
          utf8(
            opens
              .map((o) => (o === '[' ? ']' : '}'))
              .reverse()
              .join(''),
          ),
        ]),
      );
    const longLine = fc
      .tuple(
        fc.array(fc.tuple(memberName, fc.oneof(nested, bracketText, jsonString)), { maxLength: 5 }),
        colon,
      )
      .map(([members, c]) => object(members, c));
    fc.assert(fc.property(longLine, recordShape, fc.constantFrom(1, 3, 5, 12, 40), compareAs), {
      numRuns: 10000,
    });
  });

  it("takes a pushed record's depth from its brackets as the scan would, and counts every bracket, in strings too", () => {
    // A pushed record is valid JSON: the scan could only find it too deep. The bracket count must
    // say so whenever the scan does, whatever the record's length.
    const nestedValue = fc.letrec<{ v: string }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'medium' },
        fc.constantFrom('1', '"[{"', '"x"', 'null', `"${'y'.repeat(30)}"`),
        fc.array(tie('v'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
        fc
          .array(tie('v'), { maxLength: 3 })
          .map((items) => `{${items.map((v, i) => `"k${i}":${v}`).join(',')}}`),
      ),
    })).v;
    const pushed: RecordFields = { id: 'p', key: undefined, source: undefined, ts: undefined, raw: false };
    fc.assert(
      fc.property(nestedValue, fc.constantFrom(1, 2, 3, 4, 6, 10), (text, maxDepth) => {
        const bytes = utf8(text);
        const tooDeep = new JsonScanner().scan(bytes, 0, bytes.length, maxDepth, false) === SCAN_TOO_DEEP;
        const got = outcome(() => ({
          ...decodeFields(scanner, bytes, 0, bytes.length, pushed, maxDepth),
          payload: null,
        }));
        expect('reason' in got ? got.reason : 'ok', text).toBe(tooDeep ? 'too-deep' : 'ok');
        if (nestsAtMost(text, maxDepth)) expect(tooDeep, text).toBe(false);
      }),
      { numRuns: 10000 },
    );
    // Brackets in strings count: never fewer than the structure's.
    expect(nestsAtMost('{"a":"[[[[","b":1}', 3)).toBe(false);
    expect(nestsAtMost('{"a":"xxxxxxxxxxxx","b":[1]}', 2)).toBe(true);
    // Braces alone nest as deep as brackets.
    expect(nestsAtMost('{"a":{"b":{"c":{}}}}', 3)).toBe(false);
    expect(() => decodeEvent(LINE_FIELDS, '{"a":{"b":{"c":{}}}}', 3)).toThrow(/more than 3 levels deep/);
    expect(() => decodeFields(scanner, utf8('{"a":{"b":{"c":{}}}}'), 0, 20, pushed, 3)).toThrow(
      /more than 3 levels deep/,
    );
  });

  it('refuses 20 000 nested arrays as too deep, and keeps numbers and lone surrogates as JSON.parse reads them', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const failure = outcome(() => decodeEvent(LINE_FIELDS, deep, 1000));
    expect(failure).toMatchObject({ reason: 'too-deep' });
    const text = '{"id":"n\\u0000ul","big":12345678901234567890,"tiny":1e-400,"s":"\\ud800"}';
    const event = decodeEvent(LINE_FIELDS, text, 1000);
    expect(event.id).toBe('n\u0000ul');
    expect(event.payload).toStrictEqual(JSON.parse(text));
    expect(() => decodeEvent(LINE_FIELDS, '{"id":"\\ud800x"}', 1000)).toThrow(/lone surrogate/);
  });
});
