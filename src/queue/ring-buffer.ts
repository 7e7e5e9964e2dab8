import { ClosedError, InvalidOptionError } from '../errors.js';
import {
  CONSUMER_SIGNAL,
  CONSUMER_WAITING,
  CONTROL_BYTES,
  DATA_OFFSET,
  MAX_CAPACITY_BYTES,
  MIN_CAPACITY_BYTES,
  REC_COMMIT,
  REC_GROUP_RECORDS,
  RELEASE_CURSOR,
  RESERVE_CURSOR,
  SPACE_EPOCH,
  STAT_BYTES_WRITTEN,
  STAT_COUNT,
  STAT_RECORDS_WRITTEN,
  STATE,
  STATE_CLOSED,
  STATS_OFFSET,
  WRAP_MARKER,
} from './layout.js';
import { notifyAll } from './wait.js';

/** Everything another thread needs to attach to the same ring (structured-clone safe). */
export interface RingHandle {
  readonly buffer: SharedArrayBuffer;
  readonly capacityBytes: number;
}

/** `tryReserve` found no room. Cursors are unsigned, so a negative number cannot be one. */
export const RESERVE_FULL = -1;

/**
 * One bounded ring of variable-length records in a SharedArrayBuffer (layout in `layout.ts`).
 * Any number of threads produce into it (reserve, write, publish); exactly one consumer, through
 * `RingConsumer`, claims published records and releases their space in ring order.
 */
export class Ring {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly mask: number;
  /** Control words (cursors, wait words). */
  readonly control: Int32Array;
  /** Monotonic totals, readable from any thread without a lock. */
  readonly stats: BigInt64Array;
  /**
   * The data area as bytes, as Int32 words (commit and size words, record header fields), as
   * Float64 words (record times; records are 8-byte aligned) and as a Buffer (strings).
   */
  readonly data: Uint8Array;
  readonly words: Int32Array;
  readonly floats: Float64Array;
  readonly bytes: Buffer;
  /** Largest group (records published together) or record: a quarter of the capacity. */
  readonly maxGroupBytes: number;

  private constructor(buffer: SharedArrayBuffer, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.stats = new BigInt64Array(buffer, STATS_OFFSET, STAT_COUNT);
    this.data = new Uint8Array(buffer, DATA_OFFSET, capacity);
    this.words = new Int32Array(buffer, DATA_OFFSET, capacity / 4);
    this.floats = new Float64Array(buffer, DATA_OFFSET, capacity / 8);
    this.bytes = Buffer.from(buffer, DATA_OFFSET, capacity);
    this.maxGroupBytes = capacity / 4;
  }

  /** Allocates a new, empty ring of `capacityBytes` (a power of two, 4 KiB to 1 GiB). */
  static create(capacityBytes: number): Ring {
    validateCapacity('queue.capacityBytes', capacityBytes);
    return new Ring(new SharedArrayBuffer(DATA_OFFSET + capacityBytes), capacityBytes);
  }

  /** Attaches to a ring another thread created. */
  static attach(handle: RingHandle): Ring {
    validateCapacity('handle.capacityBytes', handle.capacityBytes);
    if (handle.buffer.byteLength !== DATA_OFFSET + handle.capacityBytes) {
      throw new InvalidOptionError(
        'handle.buffer.byteLength',
        `${DATA_OFFSET + handle.capacityBytes}`,
        handle.buffer.byteLength,
      );
    }
    return new Ring(handle.buffer, handle.capacityBytes);
  }

  get handle(): RingHandle {
    return { buffer: this.buffer, capacityBytes: this.capacity };
  }

  get closed(): boolean {
    return Atomics.load(this.control, STATE) === STATE_CLOSED;
  }

  /** Bytes reserved and not yet released (queued, in flight and being written). */
  usedBytes(): number {
    // Release is loaded first: it can only move towards reserve, so reading it before reserve can
    // only overstate the distance, never make it negative.
    const release = Atomics.load(this.control, RELEASE_CURSOR);
    const reserve = Atomics.load(this.control, RESERVE_CURSOR);
    return (reserve - release) >>> 0;
  }

  /**
   * Reserves `bytes` (a multiple of 8, at most `maxGroupBytes`) of contiguous space for one
   * publish group and returns the cursor where the group starts, or RESERVE_FULL. When the group
   * does not fit before the end of the data area, the rest of the lap is reserved as padding too and
   * marked with WRAP_MARKER, and the group starts at offset 0.
   * Throws ClosedError once the ring is closed.
   */
  tryReserve(bytes: number): number {
    const control = this.control;
    for (;;) {
      if (Atomics.load(control, STATE) === STATE_CLOSED) throw new ClosedError();
      const reserve = Atomics.load(control, RESERVE_CURSOR);
      // Loaded after reserve: release never passes reserve, and a value older than the truth only
      // understates the free space (a spurious FULL, retried by the caller), never overstates it.
      const release = Atomics.load(control, RELEASE_CURSOR);
      const offset = reserve & this.mask;
      const toEnd = this.capacity - offset;
      const padding = bytes > toEnd ? toEnd : 0;
      const total = padding + bytes;
      if (((reserve - release) >>> 0) + total > this.capacity) return RESERVE_FULL;
      // The CAS is the whole reservation: whoever moves RESERVE_CURSOR from `reserve` owns
      // [reserve, reserve + total); a producer that lost the race re-reads and tries again.
      if (Atomics.compareExchange(control, RESERVE_CURSOR, reserve, (reserve + total) | 0) !== reserve) {
        continue;
      }
      if (padding > 0) {
        // The padding is ours; publishing its marker right away lets the consumer step over it
        // while we are still writing the group itself.
        Atomics.store(this.words, offset >> 2, WRAP_MARKER);
      }
      return (reserve + padding) >>> 0;
    }
  }

  /** Byte offset within the data area of a cursor. */
  offsetOf(cursor: number): number {
    return cursor & this.mask;
  }

  /**
   * Publishes a group of `records` records written into [cursor, cursor + bytes). After this the
   * group belongs to the consumer; the producer must not touch it again.
   */
  publish(cursor: number, bytes: number, records: number): void {
    const at = (cursor & this.mask) >> 2;
    this.words[at + REC_GROUP_RECORDS / 4] = records;
    // The publication. Every byte of the group, and GROUP_RECORDS above, was written with plain
    // stores before this Atomics.store in program order; a consumer whose Atomics.load of the commit
    // word returns `bytes` is therefore guaranteed to see all of them (sequentially consistent
    // atomics synchronise-with, so earlier plain writes happen-before the consumer's reads).
    Atomics.store(this.words, at + REC_COMMIT / 4, bytes);
    Atomics.add(this.stats, STAT_RECORDS_WRITTEN, BigInt(records));
    Atomics.add(this.stats, STAT_BYTES_WRITTEN, BigInt(bytes));
    // Checked after the publication: a consumer that set CONSUMER_WAITING before we published will
    // be signalled here; one that sets it afterwards re-checks the commit word and sees the group.
    if (Atomics.load(this.control, CONSUMER_WAITING) !== 0) this.signalConsumer();
  }

  /** Wakes the consumer if it waits for data. */
  signalConsumer(): void {
    // Changing the word before notifying makes a consumer that is just about to wait with the
    // old value return at once instead of sleeping through this signal.
    Atomics.add(this.control, CONSUMER_SIGNAL, 1);
    notifyAll(this.control, CONSUMER_SIGNAL);
  }

  /** Closes the ring: reservations fail with ClosedError; every waiting producer and consumer wakes. */
  close(): void {
    Atomics.store(this.control, STATE, STATE_CLOSED);
    Atomics.add(this.control, SPACE_EPOCH, 1);
    notifyAll(this.control, SPACE_EPOCH);
    this.signalConsumer();
  }
}

/** Whether a ring can have `capacity` bytes: the cursor arithmetic masks with capacity - 1. */
export function isRingCapacity(capacity: unknown): capacity is number {
  return (
    Number.isInteger(capacity) &&
    (capacity as number) >= MIN_CAPACITY_BYTES &&
    (capacity as number) <= MAX_CAPACITY_BYTES &&
    ((capacity as number) & ((capacity as number) - 1)) === 0
  );
}

/**
 * Ring.create and Ring.attach are public: a capacity the mask arithmetic cannot take would corrupt
 * records, so they check it (four comparisons) even though a pipeline's capacity was resolved.
 */
function validateCapacity(field: string, capacity: number): void {
  if (!isRingCapacity(capacity)) {
    throw new InvalidOptionError(
      field,
      `a power of two from ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES}`,
      capacity,
    );
  }
}
