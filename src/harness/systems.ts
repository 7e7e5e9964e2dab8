import type { SystemResult } from './bench-report.js';
import { IdLedger } from './id-ledger.js';
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
  const routed = instruments.routeLedgers.size > 0 ? acrossRoutes(instruments, blocks, seconds) : undefined;
  const acks = routed?.union ?? instruments.ledger;
  const account = acks.account(blocks, instruments.deadLetters);
  if (routed) account.duplicates += routed.duplicates;
  // Of the events neither written nor dead-lettered, those the transform filtered out are not lost.
  const filtered = countFiltered(instruments, blocks, acks);
  account.lost -= filtered;
  const handled = account.acknowledged + filtered;
  const result: SystemResult = {
    system,
    events: account.acknowledged,
    seconds,
    eventsPerSec: handled / seconds,
    latencyMs: instruments.histogram.summary(),
    peakRssMiB: sampler.peakRss / (1024 * 1024),
    maxQueueDepth: sampler.maxDepth,
    lost: account.lost,
    duplicates: account.duplicates,
    deadLettered: account.deadLettered,
    workers: settings.workers,
    ...(filtered > 0 ? { filtered } : {}),
    ...(routed ? { routes: routed.routes } : {}),
    ...extra,
  };
  const delay = sampler.eventLoopDelay;
  if (delay.count > 0) {
    result.mainThread = { eventLoopDelayP99Ms: delay.percentile(99) / 1e6 };
    if (sampler.mainCpuUs !== undefined && handled > 0)
      result.mainThread.cpuUsPerEvent = sampler.mainCpuUs / handled;
  }
  const rss = rssTrend(sampler.rssSamples);
  if (rss) result.rss = rss;
  const cpu = process.cpuUsage(sampler.cpuStart);
  if (handled > 0) result.cpuUsPerEvent = (cpu.user + cpu.system) / handled;
  if (settings.rate !== 'max') result.targetRate = settings.rate;
  return result;
}

/** Events of the blocks that no sink acknowledged, no dead letter holds, and the transform filtered. */
function countFiltered(
  instruments: RunInstruments,
  blocks: readonly (readonly [number, number])[],
  acknowledged: IdLedger,
): number {
  const filtered = new Uint8Array(instruments.filtered.buffer);
  const acks = new Uint8Array(acknowledged.buffer);
  const letters = new Uint8Array(instruments.deadLetters.buffer);
  let n = 0;
  for (const [start, count] of blocks) {
    for (let seq = start; seq < start + count; seq++) {
      if (
        Atomics.load(filtered, seq) > 0 &&
        Atomics.load(acks, seq) === 0 &&
        Atomics.load(letters, seq) === 0
      )
        n++;
    }
  }
  return n;
}

/**
 * With several routes, each route's ledger holds the ids its sink acknowledged; an event fanned out
 * is in several. An event counts as written once if any route wrote it (the union); a duplicate is
 * an id a route acknowledged more than once. Each route's writes and duplicates are reported too.
 */
function acrossRoutes(
  instruments: RunInstruments,
  blocks: readonly (readonly [number, number])[],
  seconds: number,
): { union: IdLedger; duplicates: number; routes: NonNullable<SystemResult['routes']> } {
  const union = new IdLedger(instruments.ledger.capacity, instruments.ledger.prefix);
  const marks = new Uint8Array(union.buffer);
  let duplicates = 0;
  const routes: NonNullable<SystemResult['routes']> = [];
  const inBlock = new Uint8Array(marks.length);
  for (const [start, count] of blocks) inBlock.fill(1, start, start + count);
  for (const [route, ledger] of instruments.routeLedgers) {
    const counts = new Uint8Array(ledger.buffer);
    let written = 0;
    let repeated = 0;
    for (let seq = 0; seq < counts.length; seq++) {
      const n = Atomics.load(counts, seq);
      if (n === 0) continue;
      // An acknowledgement of something never accepted is a phantom event: a duplicate.
      if (inBlock[seq] === 0) {
        repeated += n;
        continue;
      }
      written++;
      repeated += n - 1;
      marks[seq] = 1;
    }
    duplicates += repeated;
    routes.push({ route, written, eventsPerSec: written / seconds, duplicates: repeated });
  }
  return { union, duplicates, routes };
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
    ...(settings.scenario.feed ? { feed: settings.scenario.feed } : {}),
  }));
}

export function blocksOf(plans: { seqStart: number }[], outcomes: LoadOutcome[]): [number, number][] {
  return plans.map((plan, k) => [plan.seqStart, outcomes[k]!.sent]);
}
