/**
 * The lost/duplicate accounting catches a broken sink. `brokenSink` makes each LedgerSink instance
 * drop (or count twice) the first record it acknowledges. There is one LedgerSink per thread that
 * writes: seed-port builds one on the main thread; the engine and piscina-per-event build one in
 * each worker thread. So with one worker every system has exactly one broken sink and exactly one
 * event goes missing (or is duplicated); with two workers the threaded systems have one or two
 * (a worker that never received a write drops nothing).
 */
import { describe, expect, it } from 'vitest';
import type { BenchReport } from '../../src/harness/bench-report.js';
import { builtRunBench, builtScenarios } from './built.js';

const { runBench, SYSTEMS } = await builtRunBench();
const { SCENARIOS } = await builtScenarios();

function run(workers: number, brokenSink?: 'drop-one' | 'duplicate-one'): Promise<BenchReport> {
  return runBench({
    scenario: SCENARIOS.trivial!,
    durationMs: 300,
    rate: 'max',
    workers,
    producers: 1,
    sink: 'null',
    systems: Object.keys(SYSTEMS),
    sweep: false,
    env: { node: process.version, cpus: 2, commit: 'test' },
    ...(brokenSink ? { brokenSink } : {}),
  });
}

/** Broken LedgerSink instances that can have written, per system. */
function sinkInstances(system: string, workers: number): { min: number; max: number } {
  return system === 'seed-port' ? { min: 1, max: 1 } : { min: 1, max: workers };
}

function counts(report: BenchReport) {
  return Object.fromEntries(
    report.results.map((r) => [
      r.system,
      { lost: r.lost, duplicates: r.duplicates, deadLettered: r.deadLettered },
    ]),
  );
}

describe('accounting by id', () => {
  it('reports no lost and no duplicated events for a healthy closed-loop run of every system', async () => {
    const report = await run(1);
    expect(report.results.map((r) => r.system)).toEqual(Object.keys(SYSTEMS));
    for (const result of report.results) {
      expect(result.events, result.system).toBeGreaterThan(0);
      const { p50, p90, p99, p999, max } = result.latencyMs;
      expect([p50, p90, p99, p999, max]).toEqual([p50, p90, p99, p999, max].sort((a, b) => a - b));
    }
    const healthy = { lost: 0, duplicates: 0, deadLettered: 0 };
    expect(counts(report)).toEqual(Object.fromEntries(Object.keys(SYSTEMS).map((s) => [s, healthy])));
  });

  it('counts the one event a sink silently drops as lost, in every system', async () => {
    const report = await run(1, 'drop-one');
    const dropped = { lost: 1, duplicates: 0, deadLettered: 0 };
    expect(counts(report)).toEqual(Object.fromEntries(Object.keys(SYSTEMS).map((s) => [s, dropped])));
    for (const result of report.results) expect(result.events, result.system).toBeGreaterThan(0);
  });

  it('counts the one event a sink acknowledges twice as a duplicate, in every system', async () => {
    const report = await run(1, 'duplicate-one');
    const duplicated = { lost: 0, duplicates: 1, deadLettered: 0 };
    expect(counts(report)).toEqual(Object.fromEntries(Object.keys(SYSTEMS).map((s) => [s, duplicated])));
  });

  it('counts one lost event per broken sink instance when two workers each have one', async () => {
    const workers = 2;
    const report = await run(workers, 'drop-one');
    for (const result of report.results) {
      const { min, max } = sinkInstances(result.system, workers);
      expect(result.lost, result.system).toBeGreaterThanOrEqual(min);
      expect(result.lost, result.system).toBeLessThanOrEqual(max);
      expect(result.duplicates, result.system).toBe(0);
    }
  });
});
