/**
 * Promises that resolve once rings have released past given cursors — how `drained()` and
 * `settled()` learn that what was pushed before them is written, dead-lettered or dropped. Exact
 * whatever other producers do, because space is released in ring order.
 */
export class ReleaseWaiters {
  readonly #releaseCursorOf: (partition: number) => number;
  #waiters: { marks: ReadonlyMap<number, number>; resolve: () => void }[] = [];

  /** `releaseCursorOf(partition)`: that ring's release cursor as its consumer last stored it. */
  constructor(releaseCursorOf: (partition: number) => number) {
    this.#releaseCursorOf = releaseCursorOf;
  }

  /**
   * Resolves once every ring listed in `marks` (partition index → cursor, see
   * AsyncQueueProducer.publishedEnds) has released past its cursor.
   */
  wait(marks: ReadonlyMap<number, number>): Promise<void> {
    if (this.#passed(marks)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ marks, resolve }));
  }

  /** A ring released space: resolves the waiters whose every mark is now passed. */
  released(): void {
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!this.#passed(waiter.marks)) return true;
      waiter.resolve();
      return false;
    });
  }

  #passed(marks: ReadonlyMap<number, number>): boolean {
    for (const [partition, mark] of marks) {
      // Cursors wrap at 2^32; a ring is far smaller than 2^31 bytes, so the signed distance tells
      // which side of the mark the release cursor is on.
      if (((this.#releaseCursorOf(partition) - mark) | 0) < 0) return false;
    }
    return true;
  }
}
