/**
 * Shared-memory layout of one ring. Every thread that attaches to a ring reads these constants;
 * nothing else in the code base uses a bare offset or sentinel.
 *
 * One SharedArrayBuffer per ring:
 *
 *   byte 0                    STATS_OFFSET (= CONTROL_BYTES)  DATA_OFFSET
 *   ┌─────────────────────────┬───────────────────────────────┬──────────────────────────┐
 *   │ control words (Int32)   │ statistics (BigInt64)         │ data: capacityBytes      │
 *   │ cursors, wait words,    │ totals, drops, waits          │ variable-length records  │
 *   │ one cache line apart    │                               │ (power of two bytes)     │
 *   └─────────────────────────┴───────────────────────────────┴──────────────────────────┘
 *
 * Cursors are byte positions that only grow, kept modulo 2^32 (unsigned). Because the capacity is a
 * power of two no larger than 2^30, `cursor & (capacity - 1)` is the offset in the data area on every
 * lap, and `(a - b) >>> 0` is the distance between two cursors.
 *
 * The data area holds records, each 8-byte aligned:
 *
 *   +0  u32 COMMIT         at the first record of a publish group: the group's byte length, stored
 *                          last with Atomics.store (the publication); 0 = not yet published;
 *                          WRAP_MARKER = the rest of the lap is padding, continue at offset 0.
 *                          0 in every other record of the group.
 *   +4  u32 GROUP_RECORDS  at a group's first record: how many records the group holds
 *   +8  u32 SIZE           this record's byte length, header included, multiple of 8
 *   +12 u32 (reserved)
 *   +16 body               SIZE - 16 bytes, laid out by the record codec
 *
 *   ──────────── published ──────────────┬─ reserved, being written ─┬──────── free ──────────
 *   RELEASE_CURSOR          read cursor  │                  RESERVE_CURSOR
 *   (consumer: space before it is free)  (consumer claims up to the published end)
 */

/** Bytes before the statistics block: 16 Int32 words per cache line, 4 cache lines. */
export const CONTROL_BYTES = 256;

// Int32 word indexes in the control block. Words written by different parties sit on different
// 64-byte cache lines so producers reserving do not invalidate the consumer's line.

/** Producers: next free byte (CAS to reserve). */
export const RESERVE_CURSOR = 0;
/** Consumer: every byte before it has been released back to producers. */
export const RELEASE_CURSOR = 16;
/** Consumer: bumped on every release and drop acknowledgement; producers wait on it when full. */
export const SPACE_EPOCH = 17;
/** Number of producers currently blocked in a wait on SPACE_EPOCH. */
export const PRODUCERS_WAITING = 18;
/** Consumer: its claim cursor, mirrored for statistics (the consumer keeps the truth locally). */
export const READ_CURSOR = 19;
/** 1 while the consumer is (about to be) waiting on CONSUMER_SIGNAL. */
export const CONSUMER_WAITING = 32;
/** Producers bump it to wake a waiting consumer (publication, drop request, close). */
export const CONSUMER_SIGNAL = 33;
/** Producers under the drop-oldest policy: count of drop requests made. */
export const DROP_REQUESTS = 34;
/** Producers under the drop-oldest policy: bytes they need freed, summed; the consumer takes it. */
export const DROP_BYTES_WANTED = 35;
/** Consumer: the DROP_REQUESTS value it has answered. */
export const DROP_ACKS = 48;
/** Consumer: DROP_ACKED_NOTHING when its last answer found nothing queued to drop. */
export const DROP_RESULT = 49;
/** 0 while the ring is open (as the buffer is allocated), STATE_CLOSED once it is closed. */
export const STATE = 50;

export const STATE_CLOSED = 1;
export const DROP_ACKED_SOMETHING = 0;
export const DROP_ACKED_NOTHING = 1;

/** Byte offset of the BigInt64 statistics block. */
export const STATS_OFFSET = CONTROL_BYTES;
// BigInt64 indexes in the statistics block (monotonic totals; readable from any thread).
export const STAT_RECORDS_WRITTEN = 0;
export const STAT_BYTES_WRITTEN = 1;
export const STAT_RECORDS_RELEASED = 2;
export const STAT_DROPPED_NEWEST = 3;
export const STAT_DROPPED_OLDEST = 4;
export const STAT_REJECTED = 5;
export const STAT_PRODUCER_WAITS = 6;
export const STAT_PRODUCER_BLOCKED_NS = 7;
export const STAT_RECORDS_CLAIMED = 8;
export const STAT_COUNT = 16;

/** Byte offset of the data area. */
export const DATA_OFFSET = STATS_OFFSET + STAT_COUNT * 8;

// Record header, relative to a record's start.
export const REC_COMMIT = 0;
export const REC_GROUP_RECORDS = 4;
export const REC_SIZE = 8;
export const RECORD_HEADER_BYTES = 16;

/** Commit word: nothing published here yet. */
export const UNPUBLISHED = 0;
/** Commit word: padding up to the end of the data area; the next record starts at offset 0. */
export const WRAP_MARKER = -1;

export const RECORD_ALIGN = 8;
export const MIN_CAPACITY_BYTES = 4096;
export const MAX_CAPACITY_BYTES = 2 ** 30;

/** Rounds a byte count up to the record alignment. */
export function align(bytes: number): number {
  return (bytes + (RECORD_ALIGN - 1)) & ~(RECORD_ALIGN - 1);
}
