/**
 * A lock shared by the workers of one pipeline, for sinks that admit one writer at a time
 * (SQLite). Waiting on it wakes the moment it is released — SQLite's own busy handler would sleep
 * 1, 2, 5, 10 … 100 ms between attempts while the other worker's transaction is long done.
 * One Int32: FREE or HELD. A waiting thread relies on something else keeping its event loop alive
 * (a pending Atomics.waitAsync does not); in a piscina worker its message port does.
 */
const FREE = 0;
const HELD = 1;

export class WriterLock {
  readonly buffer: SharedArrayBuffer;
  readonly #word: Int32Array;

  constructor(buffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.#word = new Int32Array(buffer);
  }

  /** Runs `write` while holding the lock; waits (without blocking the thread) while another holds it. */
  async withLock<T>(write: () => T): Promise<T> {
    // The CAS is the acquisition: whoever moves FREE → HELD owns the lock. A thread that loses waits
    // on the word while it still reads HELD, so a release between the CAS and the wait (which
    // stores FREE before notifying) makes the wait return at once: no lost wake-up.
    while (Atomics.compareExchange(this.#word, 0, FREE, HELD) !== FREE) {
      const wait = Atomics.waitAsync(this.#word, 0, HELD);
      if (wait.async) await wait.value;
    }
    try {
      return write();
    } finally {
      // Everything the holder wrote happens-before this store; the next holder's CAS reads it.
      Atomics.store(this.#word, 0, FREE);
      Atomics.notify(this.#word, 0, 1);
    }
  }
}
