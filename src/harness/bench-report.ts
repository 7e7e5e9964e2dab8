/** Latency percentiles of one run, milliseconds, push → sink acknowledgement. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** One system's figures in one run. */
export interface SystemResult {
  /** `engine`, `seed-port`, `piscina-per-event`, `engine-disk`. */
  system: string;
  /** The engine on a disk queue (engine-disk): its fsync policy, fsyncs per second, log bytes per event. */
  disk?: { fsync: string; fsyncsPerSecond: number; bytesWrittenPerEvent: number };
  /** Events acknowledged by the sink (distinct ids). */
  events: number;
  seconds: number;
  eventsPerSec: number;
  latencyMs: LatencySummary;
  peakRssMiB: number;
  /**
   * Median RSS of the first and last quarter of the run, MiB (sampled every 100 ms): memory that
   * stays flat under load keeps the two close; a leak or an unbounded queue pulls them apart.
   */
  rss?: { firstQuarterMiB: number; lastQuarterMiB: number };
  /**
   * CPU time of the whole process (every thread: producers, workers, main) per acknowledged event,
   * µs — what the system costs, less swayed than events/s by other load on a shared machine.
   */
  cpuUsPerEvent?: number;
  /** Largest queue depth seen (events). */
  maxQueueDepth: number;
  /**
   * With several rounds (`--rounds`): this system's events/s and CPU µs per event in each round,
   * in round order. The result's other figures are its median round's (by events/s), but for
   * `lost` and `duplicates`, which add up every round's.
   */
  rounds?: { eventsPerSec: number[]; cpuUsPerEvent: (number | null)[] };
  /** Events pushed and accepted that never reached the sink nor the dead letters (measured by id). */
  lost: number;
  /** Sink receptions beyond the first of an id (measured by id). */
  duplicates: number;
  deadLettered: number;
  /** Events the transform filtered out (measured by id; counted in events/s, not in `events`). */
  filtered?: number;
  /**
   * The host's main thread while the system ran: its event-loop delay p99 (perf_hooks'
   * monitorEventLoopDelay, 10 ms resolution) and its own CPU time per event handled, µs (Linux).
   */
  mainThread?: { eventLoopDelayP99Ms: number; cpuUsPerEvent?: number };
  /** The worker and producer threads the system ran, by role (`worker-1`, `producer-1`, …), for naming profiles. */
  threads?: { role: string; threadId: number }[];
  /** The engine only: where an event's time goes, from the engine's own counters (engine-stages.ts). */
  /**
   * With several routes: each route's sink's acknowledged events (an event fanned out counts in
   * each), their rate, and ids a route acknowledged more than once.
   */
  routes?: { route: string; written: number; eventsPerSec: number; duplicates: number }[];
  stages?: import('./engine-stages.js').EngineStages;
  /** Producer time spent blocked on a full queue, ms. */
  producerBlockedMs?: number;
  /** Worker threads used (engine, piscina-per-event) or concurrent consumers (seed-port). */
  workers?: number;
  /** Offered rate for open-loop runs, events/s; absent for closed loop (`max`). */
  targetRate?: number;
}

/** One point of a rate sweep: a system offered `targetRate` events/s. */
export interface SweepPoint {
  system: string;
  /** Fraction of the measured maximum offered, e.g. 0.1 … 1.2. */
  fraction: number;
  targetRate: number;
  eventsPerSec: number;
  latencyMs: LatencySummary;
}

/** What bounds a configured pipeline (`sluice bench --config`); see pipeline-bound.ts. */
export type { PipelineBound } from './pipeline-bound.js';

export interface BenchEnvironment {
  node: string;
  cpus: number;
  /** Sluice's package version (reports written before it was recorded lack it). */
  sluice?: string;
  /** Sluice's own commit when run from a checkout of it (`…-dirty` with local changes), else `unknown`. */
  commit: string;
  cpuModel?: string;
  date?: string;
}

/** What `sluice bench --json FILE` writes. */
export interface BenchReport {
  scenario: string;
  env: BenchEnvironment;
  config: Record<string, unknown>;
  results: SystemResult[];
  /**
   * With several rounds: the engine's events/s over each other system's, round by round (the two
   * ran minutes apart at most, the order of the systems rotated each round), and their median.
   */
  engineRatios?: { system: string; byRound: number[]; median: number }[];
  sweep?: SweepPoint[];
  /** `--config` runs: what bounds the pipeline, in one sentence computed from the figures. */
  bound?: import('./pipeline-bound.js').PipelineBound;
  /** `--tune`: the settings tried and the one recommended. */
  tune?: import('./tune.js').TuneResult;
  /** --profile: each thread's profile in words (top functions, time by kind of code). */
  profileSummaries?: import('./report/profile-summary.js').ProfileSummary[];
  /** Files written by --profile, relative to --out. */
  profiles?: string[];
}
