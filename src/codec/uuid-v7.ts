import { randomBytes } from 'node:crypto';

/**
 * UUIDv7 ids (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter that keeps the ids of one
 * thread strictly increasing within a millisecond (rand_a used as a counter, the RFC's method 1),
 * and 62 bits drawn at random once per thread (rand_b) that keep threads and processes apart.
 * Sortable by time as strings. Building one is two concatenations of cached parts: the time prefix
 * changes once per millisecond, the tail never.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const COUNTER_HEX = Array.from({ length: 4096 }, (_, i) => `7${i.toString(16).padStart(3, '0')}`);
const TAIL = (() => {
  const r = randomBytes(8);
  r[0] = 0x80 | (r[0]! & 0x3f);
  const hex = [...r].map((b) => HEX[b]!).join('');
  return `-${hex.slice(0, 4)}-${hex.slice(4)}`;
})();

let lastMs = -1;
let counter = 0;
let prefixMs = -1;
let prefix = '';

function timePrefix(ms: number): string {
  if (ms !== prefixMs) {
    const hi = Math.floor(ms / 0x10000);
    const lo = ms % 0x10000;
    prefix = `${hi.toString(16).padStart(8, '0')}-${HEX[lo >>> 8]}${HEX[lo & 0xff]}-`;
    prefixMs = ms;
  }
  return prefix;
}

/** A new UUIDv7 string, unique across threads and processes, increasing within this thread. */
export function uuidv7(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else {
    // Same (or an earlier, if the clock stepped back) millisecond: count on from the last id, and
    // borrow the next millisecond once the 12-bit counter is exhausted.
    ms = lastMs;
    if (++counter > 0xfff) {
      lastMs = ++ms;
      counter = 0;
    }
  }
  return timePrefix(ms) + COUNTER_HEX[counter]! + TAIL;
}
