/**
 * A bound on bytes held at once by many holders (the HTTP source's request bodies): a holder takes
 * bytes before it holds them, and is refused rather than let the total pass the limit.
 */
export class ByteBudget {
  readonly #limit: number;
  #held = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The most bytes held at once. */
  get limit(): number {
    return this.#limit;
  }

  /** Bytes taken and not given back. Never more than the limit. */
  get held(): number {
    return this.#held;
  }

  /** A new holder, holding nothing yet. */
  hold(): ByteHold {
    return new ByteHold((bytes) => this.#take(bytes));
  }

  /** Takes `bytes` (negative: gives them back); false, taking nothing, if the limit would be passed. */
  #take(bytes: number): boolean {
    if (bytes > 0 && this.#held + bytes > this.#limit) return false;
    this.#held += bytes;
    return true;
  }
}

/** What one holder took from a ByteBudget: grown as its need grows, given back whole by release(). */
export class ByteHold {
  readonly #take: (bytes: number) => boolean;
  #bytes = 0;

  constructor(take: (bytes: number) => boolean) {
    this.#take = take;
  }

  /** Bytes this holder holds. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Holds `total` bytes in all if the budget has room for the growth; false, unchanged, if not. */
  growTo(total: number): boolean {
    if (total <= this.#bytes) return true;
    if (!this.#take(total - this.#bytes)) return false;
    this.#bytes = total;
    return true;
  }

  /** Gives back everything held; safe to call more than once. */
  release(): void {
    this.#take(-this.#bytes);
    this.#bytes = 0;
  }
}
