import type { RunInstruments, RunSettings } from './run-settings.js';

/** Samples RSS, queue depth and progress every 100 ms while a system runs. */
export class RunSampler {
  peakRss = 0;
  maxDepth = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #started = performance.now();

  constructor(system: string, settings: RunSettings, instruments: RunInstruments, depth: () => number) {
    const sample = () => {
      const rss = process.memoryUsage.rss();
      if (rss > this.peakRss) this.peakRss = rss;
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
