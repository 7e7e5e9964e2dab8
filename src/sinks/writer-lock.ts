/**
 * What the workers of one pipeline share for a sink that admits one writer at a time (SQLite): the
 * lock their transactions queue on, and how much they have written since the WAL was last copied
 * into the database (a checkpoint), so that the worker which crosses the mark checkpoints once for
 * all of them, outside the lock.
 *
 * Waiting on the lock wakes the moment it is released — SQLite's own busy handler would sleep
 * 1, 2, 5, 10 … 100 ms between attempts while the other worker's transaction is long done.
 * A waiting thread relies on something else keeping its event loop alive (a pending
 * Atomics.waitAsync does not); in a piscina worker its message port does.
 */
const FREE = 0;
const HELD = 1;

/** Int32 words: the lock (FREE or HELD), and KiB written since the last checkpoint was taken. */
const LOCK = 0;
const WRITTEN_KIB = 1;

/** Bytes of the SharedArrayBuffer a WriterLock works on. */
export const WRITER_LOCK_BYTES = 8;

export function writerLockBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(WRITER_LOCK_BYTES);
}

export class WriterLock {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;

  constructor(buffer = writerLockBuffer()) {
    if (buffer.byteLength < WRITER_LOCK_BYTES)
      throw new RangeError(`a WriterLock needs ${WRITER_LOCK_BYTES} bytes, got ${buffer.byteLength}`);
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, WRITER_LOCK_BYTES / 4);
  }

  /** Runs `write` while holding the lock; waits (without blocking the thread) while another holds it. */
  async withLock<T>(write: () => T): Promise<T> {
    // The CAS is the acquisition: whoever moves FREE → HELD owns the lock. A thread that loses waits
    // on the word while it still reads HELD, so a release between the CAS and the wait (which
    // stores FREE before notifying) makes the wait return at once: no lost wake-up.
    while (Atomics.compareExchange(this.#words, LOCK, FREE, HELD) !== FREE) {
      const wait = Atomics.waitAsync(this.#words, LOCK, HELD);
      if (wait.async) await wait.value;
    }
    try {
      return write();
    } finally {
      // Everything the holder wrote happens-before this store; the next holder's CAS reads it.
      Atomics.store(this.#words, LOCK, FREE);
      Atomics.notify(this.#words, LOCK, 1);
    }
  }

  /**
   * Counts `bytes` as written (committed) and says whether the caller is to take a checkpoint now:
   * true for exactly one caller each time the count since the last one reaches `everyBytes`.
   */
  noteWritten(bytes: number, everyBytes: number): boolean {
    const kib = Math.ceil(bytes / 1024);
    const mark = Math.ceil(everyBytes / 1024);
    // The count guards no data (a checkpoint reads SQLite's own state), so no ordering with other
    // memory is needed. Atomics.add is one indivisible read-modify-write: no writer's count is lost
    // to another's.
    const total = Atomics.add(this.#words, WRITTEN_KIB, kib) + kib;
    if (total < mark) return false;
    // Whoever moves the total it read to zero takes the checkpoint. A writer whose CAS fails (another
    // added or took the count in between) leaves it to that one or to the next write: a checkpoint
    // can come a batch late, never twice for the same bytes.
    return Atomics.compareExchange(this.#words, WRITTEN_KIB, total, 0) === total;
  }
}
