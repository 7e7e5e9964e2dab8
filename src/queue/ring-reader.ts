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
    if (words[(at + REC_COMMIT) >> 2] === WRAP_MARKER) {
      pos = (pos + capacity - at) >>> 0;
      continue;
    }
    visit(at);
    count++;
    pos = (pos + words[(at + REC_SIZE) >> 2]!) >>> 0;
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
