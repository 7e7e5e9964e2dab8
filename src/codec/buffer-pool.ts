/**
 * Large buffers a thread fills again and again — a range copied out of the ring, a batch of
 * COPY rows, a read of a file — taken from here and given back once nothing reads them any more.
 *
 * A fresh buffer of a megabyte is a page fault for every 4 KiB page its first write touches, and
 * V8 frees it only at a collection after its last use, by unmapping it (a TLB shootdown across the
 * process's threads). A batch path that takes a new one per batch pays both for every byte it
 * moves: on a two-CPU VM ~12 µs a fault, about a tenth of a 200 000-line NDJSON run's client CPU
 * (docs/MEASUREMENTS.md, 2026-12-01 "buffers used again"). A buffer used again has its pages
 * already.
 *
 * Not thread-safe, and not needed to be: each thread has its own pools. Whoever gives a buffer back
 * must be sure nothing reads it after: give back only when the work that read it has ended in the
 * ordinary way, never from a path where it may still be read (a write that failed midway and may
 * still be queued on its socket, a task given up while its sink still runs) — a buffer not given
 * back is simply collected.
 */
export class BufferPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #minBytes: number;
  readonly #keep: number;

  /**
   * @param minBytes the least a new buffer holds, so that one buffer serves ranges and batches of
   *   slightly different sizes
   * @param keep how many free buffers are kept at most (the largest ones); more given back are left
   *   to the collector
   */
  constructor(minBytes: number, keep: number) {
    this.#minBytes = minBytes;
    this.#keep = keep;
  }

  /** Free buffers held now. */
  get size(): number {
    return this.#free.length;
  }

  /**
   * A Buffer of exactly `bytes` bytes (contents undefined): over a free buffer large enough, or a
   * new one of at least minBytes. It is the caller's until given back.
   */
  take(bytes: number): Buffer {
    const free = this.#free;
    let found = -1;
    for (let i = 0; i < free.length; i++) {
      // The smallest that fits, so a large one stays for a large request.
      if (free[i]!.byteLength >= bytes && (found < 0 || free[i]!.byteLength < free[found]!.byteLength))
        found = i;
    }
    let memory: ArrayBuffer;
    // A new one has an eighth to spare, so the next request a little larger still fits it.
    if (found < 0)
      memory = Buffer.allocUnsafeSlow(Math.max(bytes + (bytes >>> 3), this.#minBytes)).buffer as ArrayBuffer;
    else {
      memory = free[found]!;
      free[found] = free[free.length - 1]!;
      free.pop();
    }
    return Buffer.from(memory, 0, bytes);
  }

  /**
   * Gives back a Buffer take() returned (the whole of its memory goes back, whatever its length).
   * A buffer given back twice would be handed to two users at once: the second is ignored.
   */
  give(buffer: Buffer): void {
    const memory = buffer.buffer as ArrayBuffer;
    const free = this.#free;
    if (free.includes(memory)) return;
    if (free.length < this.#keep) {
      free.push(memory);
      return;
    }
    // Full: keep the largest ones.
    let smallest = 0;
    for (let i = 1; i < free.length; i++) if (free[i]!.byteLength < free[smallest]!.byteLength) smallest = i;
    if (free[smallest]!.byteLength < memory.byteLength) free[smallest] = memory;
  }
}
