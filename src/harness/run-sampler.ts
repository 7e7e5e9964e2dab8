import type { RunInstruments, RunSettings } from './run-settings.js';

/** Median RSS of the first and of the last quarter of a run, MiB: whether memory stayed flat. */
export interface RssTrend {
  firstQuarterMiB: number;
  lastQuarterMiB: number;
}

/** The trend of RSS samples taken at a steady pace; undefined with fewer than 8 samples. */
export function rssTrend(samples: readonly number[]): RssTrend | undefined {
  if (samples.length < 8) return undefined;
  const quarter = Math.floor(samples.length / 4);
  const median = (values: number[]) => {
    const sorted = values.sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const mib = 1024 * 1024;
  return {
    firstQuarterMiB: median(samples.slice(0, quarter)) / mib,
    lastQuarterMiB: median(samples.slice(samples.length - quarter)) / mib,
  };
}

/** Samples RSS, queue depth and progress every 100 ms while a system runs. */
export class RunSampler {
  peakRss = 0;
  maxDepth = 0;
  /** Every RSS sample, bytes, 100 ms apart. */
  readonly rssSamples: number[] = [];
  /** Process CPU time (every thread) when the system started, for cpuUsage(start) at the end. */
  readonly cpuStart = process.cpuUsage();
  readonly #timer: NodeJS.Timeout;
  readonly #started = performance.now();

  constructor(system: string, settings: RunSettings, instruments: RunInstruments, depth: () => number) {
    const sample = () => {
      const rss = process.memoryUsage.rss();
      if (rss > this.peakRss) this.peakRss = rss;
      this.rssSamples.push(rss);
      const d = depth();
      if (d > this.maxDepth) this.maxDepth = d;
      settings.onProgress?.({
        system,
        elapsedMs: performance.now() - this.#started,
        durationMs: settings.durationMs,
        acknowledged: instruments.acknowledged(),
        queueDepth: d,
        p99Ms: instruments.histogram.quantileMs(0.99),
      });
    };
    sample();
    this.#timer = setInterval(sample, 100);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
