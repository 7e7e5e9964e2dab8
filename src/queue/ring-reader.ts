import type { BufferPool } from '../codec/buffer-pool.js';
import { REC_COMMIT, REC_SIZE, WRAP_MARKER } from './layout.js';
import type { Ring } from './ring-buffer.js';

/**
 * Calls `visit` with the data offset of every record in the claimed range [start, end), in ring
 * order, stepping over wrap padding. Any thread may read a range the consumer claimed: the claim
 * happened after the publication was observed, and the range is handed over by message, so the
 * bytes are visible; they do not change until the range is released.
 */
export function forEachRecord(ring: Ring, start: number, end: number, visit: (at: number) => void): number {
  const { words, mask, capacity } = ring;
  let pos = start >>> 0;
  const stop = end >>> 0;
  let count = 0;
  while (pos !== stop) {
    const at = pos & mask;
    // Worked out for every record, not only at the ring's end: arithmetic first run at the first
    // wrap has no type feedback, and meeting it deoptimises whatever optimised code inlined this
    // loop (the worker's whole batch path), to be compiled again.
    const toEnd = capacity - at;
    const wrap = words[(at + REC_COMMIT) >> 2] === WRAP_MARKER;
    if (!wrap) {
      visit(at);
      count++;
    }
    pos = (pos + (wrap ? toEnd : words[(at + REC_SIZE) >> 2]!)) >>> 0;
  }
  return count;
}

/** Data offsets of every record in [start, end), in ring order. */
export function recordOffsets(ring: Ring, start: number, end: number): number[] {
  const offsets: number[] = [];
  forEachRecord(ring, start, end, (at) => offsets.push(at));
  return offsets;
}

/** The cursor after the first `count` records of the range starting at `start` (padding stepped over). */
export function cursorAfter(ring: Ring, start: number, count: number): number {
  const { words, mask, capacity } = ring;
  let pos = start >>> 0;
  for (let n = 0; n < count; ) {
    const at = pos & mask;
    if (words[(at + REC_COMMIT) >> 2] === WRAP_MARKER) {
      pos = (pos + capacity - at) >>> 0;
      continue;
    }
    pos = (pos + words[(at + REC_SIZE) >> 2]!) >>> 0;
    n++;
  }
  return pos;
}

/**
 * A claimed range's bytes copied out of the ring into memory of this thread's own: `bytes`, with
 * `offsetOf(at)` giving where the ring's data offset `at` lies in it. For reading many small pieces
 * out of a range: V8 copies between a SharedArrayBuffer and other memory with relaxed atomic
 * stores, a byte at a time unless both ends share their alignment to 8, so copying a 270-byte
 * payload straight from the ring costs about twice what it costs from a copy (docs/MEASUREMENTS.md).
 * This copy is one or two large pieces starting at a record, which RECORD_ALIGN aligns to 8 as the
 * new buffer is: it moves words.
 *
 * With a pool, the copy's memory is taken from it (BufferPool): the worker gives it back once the
 * batch is written and nothing reads its records any more.
 *
 * Plain reads, no Atomics, as forEachRecord's: the range was claimed after its publication was
 * observed (Atomics.load of the commit word in RingConsumer.claim) and handed to this thread by
 * message, so its bytes are visible here, and they do not change until the range is released.
 */
export class RangeCopy {
  readonly bytes: Buffer;
  readonly #from: number;
  readonly #capacity: number;

  constructor(ring: Ring, start: number, end: number, pool?: BufferPool) {
    const { bytes, mask, capacity } = ring;
    // Positions count bytes, wrap padding included: the range spans end − start of them, from
    // `from` on, going round the ring's end at most once.
    const from = start & mask;
    const size = (end - start) >>> 0;
    // Either way the buffer starts at an 8-aligned address (a buffer of its own), as the range does.
    this.bytes = pool ? pool.take(size) : Buffer.allocUnsafeSlow(size);
    this.#from = from;
    this.#capacity = capacity;
    const first = Math.min(size, capacity - from);
    this.bytes.set(bytes.subarray(from, from + first), 0);
    if (first < size) this.bytes.set(bytes.subarray(0, size - first), first);
  }

  /** Where the ring's data offset `at` (within the range) is in `bytes`. */
  offsetOf(at: number): number {
    // The capacity is a power of two: one expression for both sides of the ring's end, so the
    // first range that wraps meets no code the optimising compiler has not seen run (forEachRecord).
    return (at - this.#from) & (this.#capacity - 1);
  }
}
