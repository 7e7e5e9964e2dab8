import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_WORKER_OPTIONS } from '../config/pipeline-options.js';
import type { FsyncPolicy } from '../queue/disk-log.js';
import type { BenchEnvironment, BenchReport, SweepPoint, SystemResult } from './bench-report.js';
import { runEngine } from './engine-system.js';
import { classifyBound } from './pipeline-bound.js';
import { runPiscinaPerEvent } from './piscina-per-event-system.js';
import { type BenchSinkKind, RunInstruments, type RunSettings, warmupMs } from './run-settings.js';
import type { Scenario } from './scenario.js';
import { median } from './script-env.js';
import { runSeedPort } from './seed-port-system.js';
import { runSinkAlone } from './sink-alone-system.js';
import type { BenchSystem } from './systems.js';
import { recommend, type TuneResult, type TuneTrial, tuneBatchSizes, tuneWorkerCounts } from './tune.js';

export const SYSTEMS: Record<string, BenchSystem> = {
  engine: runEngine,
  'seed-port': runSeedPort,
  'piscina-per-event': runPiscinaPerEvent,
  'engine-disk': (settings, instruments) =>
    runEngine({ ...settings, onDisk: true }, instruments, 'engine-disk'),
};

/** Systems run only when asked for (`--systems`, or `--durability disk` for engine-disk). */
export const OPT_IN_SYSTEMS = new Set(['engine-disk']);

/**
 * The systems of `sluice bench --config`: the engine as configured, the same transform and sink in
 * one thread (seed-port's design run on the user's pipeline), and the sink alone.
 */
export const CONFIG_SYSTEMS: Record<string, BenchSystem> = {
  engine: runEngine,
  'single-thread': (settings, instruments) => runSeedPort(settings, instruments, 'single-thread'),
  'sink-alone': runSinkAlone,
};

/** Systems that offer no load of their own and are left out of a rate sweep. */
const CLOSED_LOOP_ONLY = new Set(['sink-alone']);

export interface BenchOptions {
  scenario: Scenario;
  durationMs: number;
  rate: number | 'max';
  workers: number;
  producers: number;
  sink: BenchSinkKind;
  systems: string[];
  /**
   * Every system this many times, the order rotated each round (on two cores the system that runs
   * second often gains from it, so one order alone biases every ratio). @default 1
   */
  rounds?: number;
  sweep: boolean;
  /** `--tune`: try worker counts 1…CPUs and a few batch sizes; recommend under this p99, ms. */
  tune?: { p99TargetMs: number };
  env: BenchEnvironment;
  onProgress?: RunSettings['onProgress'];
  /** After each system's run; `round` counts from 1 when there are several rounds. */
  onResult?: (result: SystemResult, round?: { index: number; of: number }) => void;
  onTrial?: (trial: TuneTrial) => void;
  /** A deliberately broken sink side, to prove the accounting catches it (tests only). */
  brokenSink?: 'drop-one' | 'duplicate-one';
  /** The engine's metrics recording; off measures its cost. @default true */
  metrics?: boolean;
  /** Serve the engine's metrics and live dashboard while it runs (HOST:PORT). */
  serve?: string;
  /** V8 young generation of each engine worker and producer thread, MiB; 0 = V8's default. @default 24 */
  youngGenerationMb?: number;
  /** engine-disk's fsync policy. @default 'group' */
  diskFsync?: FsyncPolicy;
}

/** Events a run can push at most: sized for this machine's best case, with room to spare. */
function ledgerCapacity(rate: number | 'max', durationMs: number): number {
  const perSecond = rate === 'max' ? 4_000_000 : rate * 1.2;
  return Math.ceil((perSecond * durationMs) / 1000) + 100_000;
}

async function runSystem(name: string, settings: RunSettings): Promise<SystemResult> {
  const system = (settings.scenario.pipeline ? CONFIG_SYSTEMS : SYSTEMS)[name];
  if (!system) throw new Error(`unknown system ${name}`);
  const instruments = new RunInstruments(settings.maxEvents, `${name}-${Date.now().toString(36)}-`);
  return system(settings, instruments);
}

/** Offered rate of the overload scenario: its factor times what the slow sink can take. */
export function overloadRate(scenario: Scenario, workers: number): number | undefined {
  if (!scenario.overloadFactor || !scenario.msPerBatch) return undefined;
  const batchesInFlight = workers * 2;
  const capacity = (batchesInFlight * 1000 * 1000) / scenario.msPerBatch;
  return scenario.overloadFactor * capacity;
}

/** Runs the ring transport benchmark (its own process) and reports it as two systems. */
async function runTransport(options: BenchOptions): Promise<SystemResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ring-'));
  try {
    const file = join(dir, 'ring.json');
    const script = new URL('./transport/ring-transport.js', import.meta.url);
    const seconds = Math.max(1, Math.round(options.durationMs / 3000));
    await promisify(execFile)(process.execPath, [
      script.pathname,
      '--json',
      file,
      '--seconds',
      String(seconds),
    ]);
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      ringRecordsPerSec: number;
      postMessageRecordsPerSec: number;
      rounds: number;
      secondsPerRound: number;
    };
    const zero = { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const base = {
      seconds: r.rounds * r.secondsPerRound,
      latencyMs: zero,
      peakRssMiB: process.memoryUsage.rss() / 2 ** 20,
      maxQueueDepth: 0,
      lost: 0,
      duplicates: 0,
      deadLettered: 0,
      workers: 1,
    };
    return [
      {
        system: 'engine',
        events: Math.round(r.ringRecordsPerSec * base.seconds),
        eventsPerSec: r.ringRecordsPerSec,
        ...base,
      },
      {
        system: 'postMessage',
        events: Math.round(r.postMessageRecordsPerSec * base.seconds),
        eventsPerSec: r.postMessageRecordsPerSec,
        ...base,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs every requested system on the same scenario, one after the other, in this process. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const { scenario } = options;
  const workDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const rate = overloadRate(scenario, options.workers) ?? options.rate;
  const config: Record<string, unknown> = {
    durationSeconds: options.durationMs / 1000,
    metrics: options.metrics !== false,
    rate,
    workers: options.workers,
    producers: options.producers,
    youngGenerationMb: options.youngGenerationMb ?? DEFAULT_WORKER_OPTIONS.maxYoungGenerationSizeMb,
    sink: options.sink,
    systems: options.systems,
    ...((options.rounds ?? 1) > 1 ? { rounds: options.rounds } : {}),
    ...(options.systems.includes('engine-disk') ? { diskFsync: options.diskFsync ?? 'group' } : {}),
    description: scenario.description,
    transform: scenario.pipeline ? scenario.pipeline.transform : scenario.transform.href,
    ...(scenario.pipeline && 'module' in scenario.pipeline.sink
      ? { sinkModule: scenario.pipeline.sink.module }
      : {}),
    /** Latency percentiles leave out events acknowledged in the first this-many seconds of a run. */
    latencyWarmupSeconds: warmupMs(options.durationMs) / 1000,
  };
  const report: BenchReport = { scenario: scenario.name, env: options.env, config, results: [] };
  const tables: string[] = [];
  try {
    if (scenario.transport) {
      report.results = await runTransport(options);
      for (const result of report.results) options.onResult?.(result);
      return report;
    }
    const settings = (overrides: Partial<RunSettings>): RunSettings => ({
      scenario,
      durationMs: options.durationMs,
      rate,
      workers: options.workers,
      sink: options.sink,
      workDir,
      producers: options.producers,
      maxEvents: ledgerCapacity(overrides.rate ?? rate, overrides.durationMs ?? options.durationMs),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.brokenSink ? { brokenSink: options.brokenSink } : {}),
      tables,
      ...(options.metrics === false ? { metrics: false } : {}),
      ...(options.serve ? { serve: options.serve } : {}),
      ...(options.youngGenerationMb !== undefined ? { youngGenerationMb: options.youngGenerationMb } : {}),
      ...(options.diskFsync !== undefined ? { diskFsync: options.diskFsync } : {}),
      ...overrides,
    });
    const rounds = options.rounds ?? 1;
    const byRound: SystemResult[][] = [];
    for (let round = 0; round < rounds; round++) {
      const ran = new Map<string, SystemResult>();
      for (const name of rotated(options.systems, round)) {
        const result = await runSystem(name, settings({}));
        ran.set(name, result);
        options.onResult?.(result, rounds > 1 ? { index: round + 1, of: rounds } : undefined);
      }
      byRound.push(options.systems.map((name) => ran.get(name)!));
    }
    if (rounds === 1) report.results = byRound[0]!;
    else {
      report.results = options.systems.map((_, i) => medianRound(byRound.map((results) => results[i]!)));
      report.engineRatios = engineRatios(options.systems, byRound);
    }
    if (scenario.pipeline) {
      const bound = boundOf(report.results, options.workers, options.env.cpus, rate);
      if (bound) report.bound = bound;
    }
    if (options.sweep) report.sweep = await sweep(options, report.results, settings);
    if (options.tune) report.tune = await tune(options, options.tune.p99TargetMs, settings);
    return report;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    // A failed drop (the server is the reason the run failed, say) must not hide why the run ended.
    if (tables.length > 0)
      await dropTables(tables).catch((error: Error) =>
        process.emitWarning(
          `could not drop the run's PostgreSQL tables ${tables.join(', ')}: ${error.message}`,
        ),
      );
  }
}

/** `names` starting at the `round`-th, wrapping: each system leads once every names.length rounds. */
export function rotated(names: readonly string[], round: number): string[] {
  const from = round % names.length;
  return [...names.slice(from), ...names.slice(0, from)];
}

/**
 * One system's rounds as one result: its median round by events/s (the lower middle of an even
 * count), with every round's events/s and CPU per event, and the lost and duplicated events of all
 * rounds added up — a round that lost an event is never hidden behind a median.
 */
export function medianRound(runs: readonly SystemResult[]): SystemResult {
  const sorted = [...runs].sort((a, b) => a.eventsPerSec - b.eventsPerSec);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return {
    ...median,
    lost: runs.reduce((n, r) => n + r.lost, 0),
    duplicates: runs.reduce((n, r) => n + r.duplicates, 0),
    rounds: {
      eventsPerSec: runs.map((r) => r.eventsPerSec),
      cpuUsPerEvent: runs.map((r) => r.cpuUsPerEvent ?? null),
    },
  };
}

/** The engine's events/s over each other system's, round by round, and the median of those. */
function engineRatios(
  systems: readonly string[],
  byRound: readonly SystemResult[][],
): NonNullable<BenchReport['engineRatios']> {
  const engine = systems.indexOf('engine');
  if (engine < 0) return [];
  return systems.flatMap((system, i) => {
    if (i === engine) return [];
    const byRatio = byRound
      .filter((results) => results[i]!.eventsPerSec > 0)
      .map((results) => results[engine]!.eventsPerSec / results[i]!.eventsPerSec);
    if (byRatio.length === 0) return [];
    return [{ system, byRound: byRatio, median: median(byRatio) }];
  });
}

/** Drops the PostgreSQL tables a run created (DATABASE_URL), so benchmarks leave nothing behind. */
async function dropTables(tables: string[]): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  try {
    await client.connect();
    for (const table of tables) await client.query(`DROP TABLE IF EXISTS "${table}"`);
  } finally {
    await client.end();
  }
}

const SWEEP_FRACTIONS = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.2];

/**
 * Throughput against latency as the offered rate climbs from 10 % to 120 % of the engine's
 * measured maximum (open loop, every system offered the same rates): the knee shows where each
 * system saturates.
 */
async function sweep(
  options: BenchOptions,
  results: SystemResult[],
  settings: (overrides: Partial<RunSettings>) => RunSettings,
): Promise<SweepPoint[]> {
  const reference = results.find((r) => r.system === 'engine') ?? results[0];
  if (!reference) return [];
  const maximum = reference.eventsPerSec;
  const durationMs = Math.max(2000, Math.round(options.durationMs / 3));
  const points: SweepPoint[] = [];
  for (const name of options.systems) {
    if (CLOSED_LOOP_ONLY.has(name)) continue;
    for (const fraction of SWEEP_FRACTIONS) {
      const targetRate = Math.max(100, Math.round(maximum * fraction));
      const result = await runSystem(name, settings({ rate: targetRate, durationMs }));
      points.push({
        system: name,
        fraction,
        targetRate,
        eventsPerSec: result.eventsPerSec,
        latencyMs: result.latencyMs,
      });
    }
  }
  return points;
}

/** What bounds a configured pipeline, when the engine and the single-thread run were both measured. */
function boundOf(
  results: readonly SystemResult[],
  workers: number,
  cpus: number,
  rate: number | 'max',
): BenchReport['bound'] {
  const engine = results.find((r) => r.system === 'engine');
  const single = results.find((r) => r.system === 'single-thread');
  if (!engine || !single) return undefined;
  return classifyBound({
    engine: engine.eventsPerSec,
    singleThread: single.eventsPerSec,
    sinkAlone: results.find((r) => r.system === 'sink-alone')?.eventsPerSec,
    workers,
    cpus,
    ...(rate === 'max' ? {} : { offeredRate: rate }),
    ...(engine.cpuUsPerEvent !== undefined && single.cpuUsPerEvent !== undefined
      ? { engineCpuUsPerEvent: engine.cpuUsPerEvent, singleThreadCpuUsPerEvent: single.cpuUsPerEvent }
      : {}),
    loadAverage: loadavg()[0]!,
  });
}

/**
 * `--tune`: the engine alone at every worker count from 1 to the CPUs and at a few batch sizes
 * around the configured one, each for a third of the run's duration (at least 1 s), at the run's
 * offered rate; the recommendation is the best throughput whose p99 stays under the target.
 */
async function tune(
  options: BenchOptions,
  p99TargetMs: number,
  settings: (overrides: Partial<RunSettings>) => RunSettings,
): Promise<TuneResult> {
  const configured = options.scenario.pipeline?.batch.maxRecords ?? 5000;
  const durationMs = Math.max(1000, Math.round(options.durationMs / 3));
  const trials: TuneTrial[] = [];
  for (const workers of tuneWorkerCounts(options.env.cpus)) {
    for (const batchMaxRecords of tuneBatchSizes(configured)) {
      const result = await runSystem('engine', settings({ workers, batchMaxRecords, durationMs }));
      const trial = {
        workers,
        batchMaxRecords,
        eventsPerSec: result.eventsPerSec,
        latencyMs: result.latencyMs,
        lost: result.lost,
      };
      trials.push(trial);
      options.onTrial?.(trial);
    }
  }
  return recommend(trials, p99TargetMs);
}
