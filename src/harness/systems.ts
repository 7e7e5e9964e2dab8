import type { SystemResult } from './bench-report.js';
import type { LoadOutcome, LoadPlan } from './load-generator.js';
import { type RunSampler, rssTrend } from './run-sampler.js';
import type { RunInstruments, RunSettings } from './run-settings.js';

/** A system under test: runs the scenario for the settings' duration and reports. */
export type BenchSystem = (settings: RunSettings, instruments: RunInstruments) => Promise<SystemResult>;

/** Builds a SystemResult from what every system measures the same way. */
export function systemResult(
  system: string,
  settings: RunSettings,
  instruments: RunInstruments,
  blocks: readonly (readonly [number, number])[],
  seconds: number,
  sampler: RunSampler,
  extra: Partial<SystemResult> = {},
): SystemResult {
  const account = instruments.ledger.account(blocks, instruments.deadLetters);
  const result: SystemResult = {
    system,
    events: account.acknowledged,
    seconds,
    eventsPerSec: account.acknowledged / seconds,
    latencyMs: instruments.histogram.summary(),
    peakRssMiB: sampler.peakRss / (1024 * 1024),
    maxQueueDepth: sampler.maxDepth,
    lost: account.lost,
    duplicates: account.duplicates,
    deadLettered: account.deadLettered,
    workers: settings.workers,
    ...extra,
  };
  const rss = rssTrend(sampler.rssSamples);
  if (rss) result.rss = rss;
  const cpu = process.cpuUsage(sampler.cpuStart);
  if (account.acknowledged > 0) result.cpuUsPerEvent = (cpu.user + cpu.system) / account.acknowledged;
  if (settings.rate !== 'max') result.targetRate = settings.rate;
  return result;
}

/**
 * The load plans of a run's producers: the sequence space split between them, the offered rate
 * shared out (or 'max'), the scenario's event shape.
 */
export function loadPlans(settings: RunSettings, instruments: RunInstruments, producers: number): LoadPlan[] {
  const share = Math.floor(settings.maxEvents / producers);
  return Array.from({ length: producers }, (_, k) => ({
    seqStart: k * share,
    seqLimit: share,
    rate: settings.rate === 'max' ? 'max' : settings.rate / producers,
    durationMs: settings.durationMs,
    raw: settings.scenario.raw,
    prefix: instruments.ledger.prefix,
  }));
}

export function blocksOf(plans: { seqStart: number }[], outcomes: LoadOutcome[]): [number, number][] {
  return plans.map((plan, k) => [plan.seqStart, outcomes[k]!.sent]);
}
