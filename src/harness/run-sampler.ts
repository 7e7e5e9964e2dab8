import { readFileSync } from 'node:fs';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { RunInstruments, RunSettings } from './run-settings.js';

/** Linux's clock ticks per second (USER_HZ), the unit of /proc's per-thread CPU times. */
const USER_HZ = 100;

/**
 * CPU time of the calling thread, µs, from /proc/thread-self/stat (utime + stime, 10 ms ticks);
 * undefined where there is no such file. process.cpuUsage() counts every thread of the process.
 */
export function threadCpuUs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis):
  // state is field 3, utime field 14 and stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1_000_000) / USER_HZ : undefined;
}

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
  /** The main thread's own CPU time when the system started, µs (threadCpuUs). */
  readonly mainCpuStart = threadCpuUs();
  /** The main thread's CPU time over the run, µs, once stopped. */
  mainCpuUs: number | undefined;
  /** The main thread's event-loop delay over the run (perf_hooks, 10 ms resolution). */
  readonly eventLoopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
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
    this.eventLoopDelay.enable();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.eventLoopDelay.disable();
    const end = threadCpuUs();
    if (end !== undefined && this.mainCpuStart !== undefined) this.mainCpuUs = end - this.mainCpuStart;
  }
}
