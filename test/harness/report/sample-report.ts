import type {
  BenchReport,
  LatencySummary,
  SweepPoint,
  SystemResult,
} from '../../../src/harness/bench-report.js';

function latency(p50: number, scale = 1): LatencySummary {
  return { p50, p90: p50 * 2 * scale, p99: p50 * 5 * scale, p999: p50 * 12 * scale, max: p50 * 40 * scale };
}

/** One system's figures, plausible and all distinct, with any field overridden. */
export function result(
  system: string,
  eventsPerSec: number,
  overrides: Partial<SystemResult> = {},
): SystemResult {
  return {
    system,
    events: eventsPerSec * 10,
    seconds: 10,
    eventsPerSec,
    latencyMs: latency(1.5),
    peakRssMiB: 182.4,
    rss: { firstQuarterMiB: 170.2, lastQuarterMiB: 171.9 },
    cpuUsPerEvent: 4.25,
    maxQueueDepth: 65_536,
    lost: 0,
    duplicates: 0,
    deadLettered: 0,
    producerBlockedMs: 1234.5,
    workers: 2,
    ...overrides,
  };
}

/** Offered fractions of a system's maximum, p99 flat until saturation and rising steeply after. */
export function sweepOf(system: string, max: number, floorP99: number): SweepPoint[] {
  return [0.1, 0.25, 0.5, 0.75, 0.9, 1, 1.1, 1.2].map((fraction) => {
    const achieved = Math.min(fraction, 0.97 + fraction * 0.02) * max;
    const load = Math.min(fraction, 0.99);
    const p99 = floorP99 * (1 / (1 - load)) ** 1.3 * (fraction > 1 ? fraction * 20 : 1);
    return {
      system,
      fraction,
      targetRate: Math.round(fraction * max),
      eventsPerSec: Math.round(achieved),
      latencyMs: { p50: p99 / 5, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 4 },
    };
  });
}

/** Engine, seed-port and piscina-per-event, without a sweep unless asked for. */
export function sampleReport(overrides: Partial<BenchReport> = {}): BenchReport {
  return {
    scenario: 'json-transform-null',
    env: {
      node: 'v20.19.0',
      cpus: 2,
      commit: 'bfbbd5a1c0ffee1234567890abcdef1234567890',
      cpuModel: 'AMD EPYC 7B13',
      date: '2025-11-28T21:06:00.000Z',
    },
    config: { events: 2_000_000, rate: 'max', workers: 2, batch: { maxEvents: 256, maxWaitMs: 5 } },
    results: [
      result('engine', 412_345, { latencyMs: latency(0.8) }),
      result('seed-port', 137_000, { workers: 4, latencyMs: latency(3.2, 3) }),
      result('piscina-per-event', 21_500, { latencyMs: latency(45, 8), producerBlockedMs: undefined }),
    ],
    ...overrides,
  };
}
