/**
 * A PayloadArena's records hold their JSON exactly — as text, as bytes and parsed — however many
 * records follow them into the arena, whatever the text: multi-byte characters, surrogate pairs,
 * escapes, and texts longer than a chunk. Arenas sharing a pool of chunks (one per batch, as the
 * worker has them): an arena's records stay whole while the others write and give their chunks
 * back, and a chunk given back serves the next arena.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/codec/buffer-pool.js';
import { ARENA_CHUNK_BYTES, PayloadArena } from '../../src/codec/payload-arena.js';
import type { TextRecord } from '../../src/codec/text-record.js';

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

  it('keeps each arena’s records whole while arenas sharing its pool write and give chunks back (property, 200 runs)', () => {
    // A step: write `count` texts of `size` units into arena `arena`, or release it.
    const STEP = fc.oneof(
      fc.record({
        arena: fc.integer({ min: 0, max: 2 }),
        count: fc.integer({ min: 1, max: 30 }),
        // Up to 3 000 units: a few dozen fill a chunk; now and then one that needs a chunk of its own.
        size: fc.oneof(
          { arbitrary: fc.integer({ min: 0, max: 3_000 }), weight: 9 },
          { arbitrary: fc.constant(100_000), weight: 1 },
        ),
        unit: fc.constantFrom('a', 'é', '中', '😀', '\\n'),
      }),
      fc.record({ release: fc.integer({ min: 0, max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(STEP, { minLength: 1, maxLength: 40 }), (steps) => {
        const pool = new BufferPool(ARENA_CHUNK_BYTES, 4);
        const arenas = [new PayloadArena(pool), new PayloadArena(pool), new PayloadArena(pool)];
        // Each arena's records since its last release, with the text each must hold.
        const live: Array<Array<[TextRecord, string]>> = [[], [], []];
        let n = 0;
        for (const step of steps) {
          if ('release' in step) {
            arenas[step.release]!.release();
            live[step.release] = [];
          } else {
            for (let k = 0; k < step.count; k++) {
              const json = JSON.stringify({ n: n++, text: step.unit.repeat(step.size) });
              live[step.arena]!.push([
                arenas[step.arena]!.record(String(n), undefined, undefined, n, json),
                json,
              ]);
            }
          }
          for (const records of live) {
            for (const [record, json] of records) {
              const copied = Buffer.alloc(record.payloadBytes);
              record.copyPayload(copied, 0);
              expect(copied.toString('utf8')).toBe(json);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('takes its chunks from the pool and gives them back on release; a text too long for a chunk gets its own, never pooled', () => {
    const pool = new BufferPool(ARENA_CHUNK_BYTES, 8);
    const first = new PayloadArena(pool);
    // ~1 KB texts: a little over three chunks' worth.
    const text = JSON.stringify({ pad: 'x'.repeat(1000) });
    const written = Array.from({ length: 800 }, (_, i) =>
      first.record(String(i), undefined, undefined, i, text),
    );
    const big = first.record(
      'big',
      undefined,
      undefined,
      undefined,
      JSON.stringify({ pad: 'é'.repeat(ARENA_CHUNK_BYTES) }),
    );
    expect(pool.size).toBe(0);
    first.release();
    // The pooled chunks came back; the big text's own chunk did not.
    expect(pool.size).toBeGreaterThanOrEqual(3);
    const pooled = pool.size;
    const bigText = big.payloadJson;
    // The next arena writes into the same memory: what the first arena's records read is gone,
    // which is why release() waits for the batch to end.
    const second = new PayloadArena(pool);
    const other = JSON.stringify({ other: 'y'.repeat(1000) });
    for (let i = 0; i < 800; i++) second.record(String(i), undefined, undefined, i, other);
    expect(pool.size).toBeLessThan(pooled);
    const copied = Buffer.alloc(written[0]!.payloadBytes);
    written[0]!.copyPayload(copied, 0);
    expect(copied.toString('utf8')).not.toBe(text);
    // A chunk of its own is never written over.
    const bigCopy = Buffer.alloc(big.payloadBytes);
    big.copyPayload(bigCopy, 0);
    expect(bigCopy.toString('utf8')).toBe(bigText);
    // Without a pool, release() only starts over: earlier records keep their bytes.
    const alone = new PayloadArena();
    const kept = alone.record('k', undefined, undefined, undefined, text);
    alone.release();
    alone.record('l', undefined, undefined, undefined, other);
    expect(kept.payloadJson).toBe(text);
  });
});
