import { CumulativeHistogram, type HistogramSnapshot } from '../cumulative-histogram.js';

/** Upper bounds, seconds, of the event-loop delay histogram. */
export const EVENT_LOOP_DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export type { HistogramSnapshot as EventLoopDelaySnapshot } from '../cumulative-histogram.js';

/**
 * The main thread's event-loop delay as a Prometheus histogram: a timer every `resolutionMs`
 * records how late it fired. The counts only grow, so every scraper sees the same series and
 * `rate()`/`histogram_quantile()` choose the window (a gauge reset per scrape would split the
 * observations between two scrapers). One timer callback per 10 ms costs the main thread a few
 * microseconds of every 10 ms.
 */
export class EventLoopDelayHistogram {
  readonly #histogram = new CumulativeHistogram(EVENT_LOOP_DELAY_BUCKETS);
  readonly #resolutionMs: number;
  #expected = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(resolutionMs = 10) {
    this.#resolutionMs = resolutionMs;
  }

  start(): this {
    if (this.#timer) return this;
    this.#expected = performance.now() + this.#resolutionMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.observe(Math.max(0, now - this.#expected) / 1000);
      this.#expected = now + this.#resolutionMs;
    }, this.#resolutionMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Records one delay, seconds. */
  observe(seconds: number): void {
    this.#histogram.observe(seconds);
  }

  snapshot(): HistogramSnapshot {
    return this.#histogram.snapshot();
  }
}
