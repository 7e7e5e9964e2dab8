/**
 * BufferPool: a buffer taken is its taker's alone until given back; one given back serves a later
 * request it fits (its memory, not a new allocation); the pool keeps its largest few.
 */
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/codec/buffer-pool.js';
import { prng } from '../../src/harness/prng.js';

describe('BufferPool', () => {
  it('hands out buffers of exactly the size asked, over memory of at least minBytes', () => {
    const pool = new BufferPool(1024, 2);
    const small = pool.take(10);
    expect(small.length).toBe(10);
    expect(small.buffer.byteLength).toBeGreaterThanOrEqual(1024);
    const large = pool.take(5000);
    expect(large.length).toBe(5000);
    // An eighth to spare, so a slightly larger request later fits the same memory.
    expect(large.buffer.byteLength).toBe(5000 + 625);
  });

  it('gives a buffer given back to the next request it fits, and a new one to a request it does not', () => {
    const pool = new BufferPool(1024, 2);
    const first = pool.take(1000);
    pool.give(first);
    expect(pool.size).toBe(1);
    const again = pool.take(900);
    expect(again.buffer).toBe(first.buffer);
    expect(pool.size).toBe(0);
    pool.give(again);
    const larger = pool.take(4096);
    expect(larger.buffer).not.toBe(first.buffer);
    // The smaller one stayed free.
    expect(pool.size).toBe(1);
  });

  it('takes the smallest free buffer that fits, leaving the large one for a large request', () => {
    const pool = new BufferPool(16, 3);
    const big = pool.take(10_000);
    const small = pool.take(100);
    pool.give(big);
    pool.give(small);
    expect(pool.take(50).buffer).toBe(small.buffer);
    expect(pool.take(9000).buffer).toBe(big.buffer);
  });

  it('keeps at most `keep` buffers, the largest, and ignores a buffer given back twice', () => {
    const pool = new BufferPool(16, 2);
    const a = pool.take(100);
    const b = pool.take(200);
    const c = pool.take(300);
    pool.give(a);
    pool.give(a);
    expect(pool.size).toBe(1);
    pool.give(b);
    pool.give(c);
    expect(pool.size).toBe(2);
    // a (the smallest) made room for c: requests for 150 and 250 get b and c, then a new one.
    expect(pool.take(150).buffer).toBe(b.buffer);
    expect(pool.take(250).buffer).toBe(c.buffer);
    expect(pool.take(50).buffer).not.toBe(a.buffer);
  });

  it('never hands the same memory to two takers at once (random takes and gives, many seeds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      const pool = new BufferPool(64, 3);
      // Each buffer held is filled with its own byte; a buffer also held by someone else would have
      // been overwritten by the time it is checked.
      const held: { buffer: Buffer; mark: number }[] = [];
      let mark = 0;
      for (let step = 0; step < 400; step++) {
        if (held.length > 0 && random() < 0.45) {
          const [{ buffer, mark: expected }] = held.splice(Math.floor(random() * held.length), 1) as [
            { buffer: Buffer; mark: number },
          ];
          const wrong = buffer.findIndex((byte) => byte !== expected);
          expect([seed, step, wrong]).toEqual([seed, step, -1]);
          pool.give(buffer);
        } else {
          const buffer = pool.take(1 + Math.floor(random() * 300));
          mark = (mark + 1) % 256;
          buffer.fill(mark);
          held.push({ buffer, mark });
        }
        expect(pool.size).toBeLessThanOrEqual(3);
      }
    }
  });
});
