/**
 * A PayloadArena's records hold their JSON exactly — as text, as bytes and parsed — however many
 * records follow them into the arena, whatever the text: multi-byte characters, surrogate pairs,
 * escapes, and texts longer than a chunk.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayloadArena } from '../../src/codec/payload-arena.js';

/** Strings of every kind a payload can carry, as JSON.stringify writes them (lone surrogates escaped). */
const VALUE = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('\u0000', '\ud800', 'a\udc00b', '😀', 'é中', '"\\\n\t', ''),
  // Long ones: a chunk is 256 KiB, and a text's room is reserved at three bytes a unit.
  fc.integer({ min: 60_000, max: 200_000 }).map((n) => 'é'.repeat(n)),
);
const PAYLOAD = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(VALUE, fc.double(), fc.boolean()), {
  maxKeys: 4,
});

describe('PayloadArena', () => {
  it('keeps every record’s JSON whole while later records are written (property, 300 runs)', () => {
    fc.assert(
      fc.property(fc.array(PAYLOAD, { minLength: 1, maxLength: 60 }), (payloads) => {
        const arena = new PayloadArena();
        const texts = payloads.map((p) => JSON.stringify(p));
        const records = texts.map((json, i) =>
          arena.record(`id-${i}`, i % 2 ? `k${i}` : undefined, undefined, i, json, i % 3 ? 'r' : ['a', 'b']),
        );
        records.forEach((record, i) => {
          const json = texts[i]!;
          expect(record.payloadJson).toBe(json);
          expect(record.payloadBytes).toBe(Buffer.byteLength(json));
          const copied = Buffer.alloc(record.payloadBytes + 2, 0xee);
          expect(record.copyPayload(copied, 1)).toBe(record.payloadBytes);
          expect(copied.subarray(1, -1).equals(Buffer.from(json))).toBe(true);
          // Nothing written past the record's own bytes.
          expect([copied[0], copied[copied.length - 1]]).toEqual([0xee, 0xee]);
          expect(record.payload).toEqual(JSON.parse(json));
          expect([record.id, record.key, record.ts, record.route]).toEqual([
            `id-${i}`,
            i % 2 ? `k${i}` : undefined,
            i,
            i % 3 ? 'r' : ['a', 'b'],
          ]);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('never hands out a range twice: 20 000 records over many chunks, each still its own text', () => {
    const arena = new PayloadArena();
    const records = Array.from({ length: 20_000 }, (_, i) =>
      arena.record(
        String(i),
        undefined,
        undefined,
        undefined,
        JSON.stringify({ i, pad: 'x'.repeat(i % 97) }),
      ),
    );
    records.forEach((record, i) => {
      expect(record.payloadJson).toBe(JSON.stringify({ i, pad: 'x'.repeat(i % 97) }));
    });
  });
});
