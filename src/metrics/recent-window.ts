import { H_LATENCY, interpolatedQuantile, M_BUSY_NS, type MetricsBlock } from './metrics-block.js';

/** Figures over the last few seconds, the same for every reader. */
export interface RecentFigures {
  /** Share of worker time spent on batches, 0–1. */
  workerUtilization: number;
  /**
   * Push → sink acknowledgement of the events acknowledged in the window (interpolated within the
   * histogram's buckets), ms; the previous window's figures when nothing was acknowledged in it.
   */
  latencyP50Ms: number;
  latencyP99Ms: number;
}

interface Sample {
  at: number;
  busyNs: number;
  latency: number[];
}

export interface RecentWindowOptions {
  /** The span the figures cover, ms. @default 5000 */
  windowMs?: number;
  /** How often a sample is taken, ms. @default 1000 */
  sampleEveryMs?: number;
  /** Clock in ms (tests drive it by hand). @default performance.now */
  now?: () => number;
}

/**
 * Samples the shared counters on a timer of its own and derives the recent figures from the
 * samples alone: what a reader sees depends on the time it reads, never on who read before it.
 * A figure computed "since the previous reading" would hand two scrapers (an HA pair, or a
 * scrape and the dashboard) two different windows; rates of counters are the reader's business,
 * and these few ratios are the same for all of them.
 */
export class RecentWindow {
  readonly #block: MetricsBlock;
  readonly #workers: () => number;
  readonly #windowMs: number;
  readonly #sampleEveryMs: number;
  readonly #now: () => number;
  readonly #samples: Sample[] = [];
  #figures: RecentFigures = { workerUtilization: 0, latencyP50Ms: 0, latencyP99Ms: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(block: MetricsBlock, workers: () => number, options: RecentWindowOptions = {}) {
    this.#block = block;
    this.#workers = workers;
    this.#windowMs = options.windowMs ?? 5000;
    this.#sampleEveryMs = options.sampleEveryMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#samples.push(this.#sample());
  }

  /** Samples every `sampleEveryMs` until stop(); the timer never keeps the process alive. */
  start(): this {
    this.#timer ??= setInterval(() => this.sample(), this.#sampleEveryMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The figures as of the last sample (before the first one: since construction). */
  read(): RecentFigures {
    if (this.#samples.length === 1) this.sample();
    return this.#figures;
  }

  /** Takes a sample and recomputes the figures over the window that ends with it. */
  sample(): void {
    const latest = this.#sample();
    // Keep the newest sample at least a window old as the window's start, and nothing older.
    let start = 0;
    while (start + 1 < this.#samples.length && latest.at - this.#samples[start + 1]!.at >= this.#windowMs)
      start++;
    this.#samples.splice(0, start);
    this.#samples.push(latest);
    const first = this.#samples[0]!;
    const elapsedNs = (latest.at - first.at) * 1e6 * Math.max(1, this.#workers());
    const utilization = elapsedNs > 0 ? (latest.busyNs - first.busyNs) / elapsedNs : 0;
    const delta = latest.latency.map((n, i) => n - first.latency[i]!);
    const p50 = interpolatedQuantile(H_LATENCY.bounds, delta, 0.5);
    this.#figures = {
      workerUtilization: Math.min(1, Math.max(0, utilization)),
      latencyP50Ms: Number.isNaN(p50) ? this.#figures.latencyP50Ms : p50 * 1000,
      latencyP99Ms: Number.isNaN(p50)
        ? this.#figures.latencyP99Ms
        : interpolatedQuantile(H_LATENCY.bounds, delta, 0.99) * 1000,
    };
  }

  #sample(): Sample {
    return {
      at: this.#now(),
      busyNs: this.#block.read(M_BUSY_NS),
      latency: this.#block.bucketCounts(H_LATENCY),
    };
  }
}
