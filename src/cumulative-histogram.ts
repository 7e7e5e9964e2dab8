/**
 * Observations counted into fixed buckets, counts only growing — a Prometheus histogram kept in
 * one thread — so that every scraper sees the same series and `rate()` / `histogram_quantile()`
 * choose the window.
 */
export class CumulativeHistogram {
  /** Upper bounds, ascending; the last bucket (+Inf) is implied. */
  readonly bounds: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  /** Cumulative counts per bound, then +Inf; the sum and count of every observation. */
  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let running = 0;
    for (const n of this.#counts) {
      running += n;
      cumulative.push(running);
    }
    return { cumulative, sum: this.#sum, count: this.#count };
  }
}

export interface HistogramSnapshot {
  /** Cumulative counts per bound, then +Inf. */
  cumulative: number[];
  sum: number;
  count: number;
}
