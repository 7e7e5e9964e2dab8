import {
  CONSUMER_SIGNAL,
  CONSUMER_WAITING,
  DROP_ACKED_NOTHING,
  DROP_ACKED_SOMETHING,
  DROP_ACKS,
  DROP_BYTES_WANTED,
  DROP_REQUESTS,
  DROP_RESULT,
  PRODUCERS_WAITING,
  READ_CURSOR,
  REC_COMMIT,
  REC_GROUP_RECORDS,
  REC_SIZE,
  RELEASE_CURSOR,
  SPACE_EPOCH,
  STAT_DROPPED_OLDEST,
  STAT_RECORDS_CLAIMED,
  STAT_RECORDS_RELEASED,
  STAT_RECORDS_WRITTEN,
  UNPUBLISHED,
  WRAP_MARKER,
} from './layout.js';
import type { Ring } from './ring-buffer.js';
import { notifyAll, type WaitResult, waitAsync, waitSync } from './wait.js';

/** A claimed stretch of the ring: cursors [start, end) holding `records` records. */
export interface RingRange {
  readonly start: number;
  readonly end: number;
  readonly records: number;
}

/**
 * The single consumer of a ring. It claims published records in ring order as contiguous
 * ranges — each range starts where the previous one ended — and releases space up to a cursor.
 * Only one thread may own a RingConsumer for a given ring at a time.
 */
export class RingConsumer {
  readonly ring: Ring;
  /** Everything before this cursor has been claimed. */
  #read = 0;
  /** End of the publish group `#read` is inside, or `#read` itself at a group boundary. */
  #groupEnd = 0;
  /** Records of that group not yet claimed. */
  #groupLeft = 0;
  #released = 0;
  #dropAcks = 0;

  constructor(ring: Ring) {
    this.ring = ring;
    this.#read = Atomics.load(ring.control, READ_CURSOR) >>> 0;
    this.#groupEnd = this.#read;
    this.#released = Atomics.load(ring.control, RELEASE_CURSOR) >>> 0;
    this.#dropAcks = Atomics.load(ring.control, DROP_ACKS);
  }

  /** Cursor up to which records have been claimed. */
  get readCursor(): number {
    return this.#read;
  }

  /** Cursor up to which space has been released. */
  get releaseCursor(): number {
    return this.#released;
  }

  /**
   * Claims the next published records, at most `maxRecords` and — past the first record — at
   * most `maxBytes`. Returns null when nothing is published after the read cursor.
   */
  claim(maxRecords: number, maxBytes: number): RingRange | null {
    const { words, mask, capacity } = this.ring;
    const start = this.#read;
    const released = this.#released;
    let pos = start;
    let groupEnd = this.#groupEnd;
    let groupLeft = this.#groupLeft;
    let records = 0;
    while (records < maxRecords) {
      if (pos === groupEnd) {
        // A whole lap ahead of the release cursor is space still held by unreleased records of
        // this lap (possibly claimed by this very call): nothing there can be newly published.
        if ((pos - released) >>> 0 >= capacity) break;
        const offset = pos & mask;
        // Pairs with the producer's Atomics.store in Ring.publish: seeing a non-zero commit word
        // here makes every byte of that group visible to this thread.
        const commit = Atomics.load(words, (offset + REC_COMMIT) >> 2);
        if (commit === UNPUBLISHED) break;
        if (commit === WRAP_MARKER) {
          pos = (pos + capacity - offset) >>> 0;
          groupEnd = pos;
          continue;
        }
        groupEnd = (pos + commit) >>> 0;
        groupLeft = words[(offset + REC_GROUP_RECORDS) >> 2]!;
      }
      const taken = (pos - start) >>> 0;
      if (groupLeft <= maxRecords - records && taken + ((groupEnd - pos) >>> 0) <= maxBytes) {
        records += groupLeft;
        pos = groupEnd;
        groupLeft = 0;
        continue;
      }
      // The limits cut this group: take it record by record.
      while (groupLeft > 0 && records < maxRecords) {
        const size = words[((pos & mask) + REC_SIZE) >> 2]!;
        if (records > 0 && ((pos - start) >>> 0) + size > maxBytes) break;
        pos = (pos + size) >>> 0;
        records++;
        groupLeft--;
      }
      break;
    }
    // Padding skipped without a record after it stays unclaimed, so that every range holds at
    // least one record and ranges stay contiguous.
    if (records === 0) return null;
    this.#read = pos;
    this.#groupEnd = groupLeft === 0 ? pos : groupEnd;
    this.#groupLeft = groupLeft;
    Atomics.store(this.ring.control, READ_CURSOR, pos | 0);
    Atomics.add(this.ring.stats, STAT_RECORDS_CLAIMED, BigInt(records));
    return { start, end: pos, records };
  }

  /** Records published and not yet claimed (a count that may be a moment old: producers go on). */
  unclaimedRecords(): number {
    const stats = this.ring.stats;
    // Claimed is read first: it only grows towards written, so the difference is never negative.
    const claimed = Atomics.load(stats, STAT_RECORDS_CLAIMED);
    return Number(Atomics.load(stats, STAT_RECORDS_WRITTEN) - claimed);
  }

  /** True when records (or wrap padding) are published after the read cursor. */
  hasData(): boolean {
    const ring = this.ring;
    if (this.#read !== this.#groupEnd) return true;
    return Atomics.load(ring.words, ((this.#read & ring.mask) + REC_COMMIT) >> 2) !== UNPUBLISHED;
  }

  /** True when `claim` would return a range, a drop request waits, or the ring is closed. */
  hasWork(): boolean {
    return this.hasData() || this.dropRequested() || this.ring.closed;
  }

  /**
   * Releases every byte before `upTo` back to producers and wakes the ones that wait. `records`
   * is how many records that space held (for statistics). Ranges must be released in ring order.
   */
  release(upTo: number, records: number): void {
    const ring = this.ring;
    const from = this.#released;
    const length = (upTo - from) >>> 0;
    if (length === 0) return;
    const offset = from & ring.mask;
    const first = Math.min(length, ring.capacity - offset);
    zero(ring.data, offset, first);
    if (length > first) zero(ring.data, 0, length - first);
    this.#released = upTo >>> 0;
    // Zeroed before the cursor moves: a producer that sees the new release cursor may reserve this
    // space at once, and the next lap must find UNPUBLISHED commit words here, never stale ones.
    Atomics.store(ring.control, RELEASE_CURSOR, upTo | 0);
    Atomics.add(ring.stats, STAT_RECORDS_RELEASED, BigInt(records));
    this.#wakeProducers();
  }

  /** True when a drop-oldest producer asked for room that this consumer has not answered yet. */
  dropRequested(): boolean {
    return Atomics.load(this.ring.control, DROP_REQUESTS) !== this.#dropAcks;
  }

  /**
   * Answers drop-oldest requests: claims the oldest unclaimed records (about the bytes producers
   * asked for) as dropped and returns them — the caller releases the range in ring order, like any
   * other — or returns null when nothing unclaimed was left to drop. Producers are told either way.
   */
  dropOldest(): RingRange | null {
    const control = this.ring.control;
    const requests = Atomics.load(control, DROP_REQUESTS);
    if (requests === this.#dropAcks) return null;
    const wanted = Math.max(Atomics.exchange(control, DROP_BYTES_WANTED, 0), 1);
    // Claim until at least `wanted` bytes are dropped (a claim stops short of its byte limit).
    let range: RingRange | null = null;
    for (let bytes = 0; bytes < wanted; ) {
      const next = this.claim(Number.MAX_SAFE_INTEGER, wanted - bytes);
      if (!next) break;
      range = range ? { start: range.start, end: next.end, records: range.records + next.records } : next;
      bytes = (range.end - range.start) >>> 0;
    }
    if (range) Atomics.add(this.ring.stats, STAT_DROPPED_OLDEST, BigInt(range.records));
    this.#dropAcks = requests;
    // The result is stored before the acknowledgement, so a producer that sees its request
    // acknowledged also sees what the answer was.
    Atomics.store(control, DROP_RESULT, range ? DROP_ACKED_SOMETHING : DROP_ACKED_NOTHING);
    Atomics.store(control, DROP_ACKS, requests);
    this.#wakeProducers();
    return range;
  }

  /** Resolves once there may be work (see `hasWork`), or after `timeoutMs`. Never blocks. */
  async waitForWork(timeoutMs = Infinity): Promise<WaitResult> {
    const control = this.ring.control;
    const signal = this.#prepareWait();
    if (signal === null) return 'not-equal';
    try {
      return await waitAsync(control, CONSUMER_SIGNAL, signal, timeoutMs);
    } finally {
      Atomics.store(control, CONSUMER_WAITING, 0);
    }
  }

  /** Blocks this thread (a worker, never the main thread) until there may be work. */
  waitForWorkSync(timeoutMs = Infinity): WaitResult {
    const control = this.ring.control;
    const signal = this.#prepareWait();
    if (signal === null) return 'not-equal';
    try {
      return waitSync(control, CONSUMER_SIGNAL, signal, timeoutMs);
    } finally {
      Atomics.store(control, CONSUMER_WAITING, 0);
    }
  }

  /** Announces the wait, then re-checks; returns the signal value to wait on, or null if work is there. */
  #prepareWait(): number | null {
    const control = this.ring.control;
    // Order matters: announce first, then read the signal, then re-check. A producer publishing
    // after our re-check sees CONSUMER_WAITING = 1 and bumps the signal, so the wait below either
    // sees a changed value or is notified; a publication before the re-check is seen by it.
    Atomics.store(control, CONSUMER_WAITING, 1);
    const signal = Atomics.load(control, CONSUMER_SIGNAL);
    if (this.hasWork()) {
      Atomics.store(control, CONSUMER_WAITING, 0);
      return null;
    }
    return signal;
  }

  #wakeProducers(): void {
    const control = this.ring.control;
    // The epoch changes before the waiter count is read: a producer that registers as waiting
    // after this read loads the epoch after our change and so does not sleep on the old value.
    Atomics.add(control, SPACE_EPOCH, 1);
    if (Atomics.load(control, PRODUCERS_WAITING) > 0) notifyAll(control, SPACE_EPOCH);
  }
}

const ZEROS = new Uint8Array(64 * 1024);

/**
 * Zeroes `length` bytes at `offset`. Copying from a zero page is a memcpy; `fill(0)` on a shared
 * Uint8Array goes byte by byte (measured here: about 7× slower for 32 KiB).
 */
function zero(data: Uint8Array, offset: number, length: number): void {
  while (length > 0) {
    const n = Math.min(length, ZEROS.length);
    data.set(n === ZEROS.length ? ZEROS : ZEROS.subarray(0, n), offset);
    offset += n;
    length -= n;
  }
}
