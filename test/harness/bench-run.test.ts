/**
 * Every scenario, short, through every system: each completes, acknowledges events, loses and
 * duplicates none (accounting by id), reports ordered latency percentiles, never more events than
 * were offered, and the report has the shape `--json FILE` promises.
 *
 * Runs are open loop at a modest rate, so what was offered is known: at most rate × duration + 1
 * per producer (the overload scenario fixes its own rate). Closed-loop runs are in
 * accounting.test.ts and cli.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport, SystemResult } from '../../src/harness/bench-report.js';
import type { Scenario } from '../../src/harness/scenario.js';
import {
  announcePostgres,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';
import { benchReportProblems } from './bench-report-schema.js';
import { builtRunBench, builtScenarios } from './built.js';

const { runBench, overloadRate, SYSTEMS, rotated, medianRound } = await builtRunBench();
const { SCENARIOS } = await builtScenarios();

const DURATION_MS = 400;
const RATE = 25_000;
const ENV = { node: process.version, cpus: 2, commit: 'test' };

function run(
  scenario: Scenario,
  options: Partial<Parameters<typeof runBench>[0]> = {},
): Promise<BenchReport> {
  return runBench({
    scenario,
    durationMs: DURATION_MS,
    rate: RATE,
    workers: 1,
    producers: 1,
    sink: scenario.sink,
    systems: Object.keys(SYSTEMS),
    sweep: false,
    env: ENV,
    ...options,
  });
}

function expectOrderedLatency(result: SystemResult): void {
  const { p50, p90, p99, p999, max } = result.latencyMs;
  expect(p50, `${result.system} p50 ≤ p90`).toBeLessThanOrEqual(p90);
  expect(p90, `${result.system} p90 ≤ p99`).toBeLessThanOrEqual(p99);
  expect(p99, `${result.system} p99 ≤ p99.9`).toBeLessThanOrEqual(p999);
  expect(p999, `${result.system} p99.9 ≤ max`).toBeLessThanOrEqual(max);
}

function expectSoundReport(report: BenchReport, scenario: Scenario): void {
  expect(benchReportProblems(JSON.parse(JSON.stringify(report)))).toEqual([]);
  expect(report.scenario).toBe(scenario.name);
  expect(report.env).toEqual(ENV);
  expect(report.config).toMatchObject({
    durationSeconds: DURATION_MS / 1000,
    workers: 1,
    sink: scenario.sink,
  });
  const systems = scenario.transport ? ['engine', 'postMessage'] : Object.keys(SYSTEMS);
  expect(report.results.map((r) => r.system)).toEqual(systems);
  // The overload scenario offers its factor times what the slow sink can take, whatever --rate says.
  const offered = overloadRate(scenario, 1) ?? RATE;
  if (!scenario.transport) expect(report.config.rate).toBe(offered);
  for (const result of report.results) {
    expect(result.events, `${result.system} events`).toBeGreaterThan(0);
    expect(
      { lost: result.lost, duplicates: result.duplicates, deadLettered: result.deadLettered },
      result.system,
    ).toEqual({ lost: 0, duplicates: 0, deadLettered: 0 });
    expectOrderedLatency(result);
    // events / seconds, up to rounding (the ring transport reports events rounded from its rate).
    expect(Math.abs(result.eventsPerSec - result.events / result.seconds)).toBeLessThanOrEqual(
      result.eventsPerSec * 1e-6,
    );
    if (scenario.transport) continue;
    expect(result.targetRate, `${result.system} targetRate`).toBe(offered);
    expect(result.events, `${result.system} events ≤ offered`).toBeLessThanOrEqual(
      (offered * DURATION_MS) / 1000 + 1,
    );
    expect(result.latencyMs.max, `${result.system} measured a latency`).toBeGreaterThan(0);
    // Handling an event costs some CPU, and no system here spends a whole second on one.
    expect(result.cpuUsPerEvent, `${result.system} cpuUsPerEvent`).toBeGreaterThan(0);
    expect(result.cpuUsPerEvent!, `${result.system} cpuUsPerEvent`).toBeLessThan(1_000_000);
  }
}

describe('runBench on every scenario', () => {
  const names = Object.keys(SCENARIOS).filter((name) => name !== 'postgres');

  it.each(names)('runs the %s scenario through every system with every event accounted for', async (name) => {
    const scenario = SCENARIOS[name]!;
    expectSoundReport(await run(scenario), scenario);
  });
});

describe('runBench with several rounds', () => {
  it('runs every system each round, the order rotated, and reports its median round and every round', async () => {
    const scenario = SCENARIOS.trivial!;
    const order: string[][] = [];
    const report = await run(scenario, {
      systems: ['engine', 'seed-port'],
      rounds: 3,
      onResult: (result, round) => {
        order[round!.index - 1] ??= [];
        order[round!.index - 1]!.push(result.system);
        expect(round!.of).toBe(3);
      },
    });
    expect(order).toEqual([
      ['engine', 'seed-port'],
      ['seed-port', 'engine'],
      ['engine', 'seed-port'],
    ]);
    expect(report.config).toMatchObject({ rounds: 3 });
    expect(report.results.map((r) => r.system)).toEqual(['engine', 'seed-port']);
    for (const result of report.results) {
      const rates = result.rounds!.eventsPerSec;
      expect(rates, result.system).toHaveLength(3);
      expect(result.rounds!.cpuUsPerEvent, result.system).toHaveLength(3);
      expect(result.eventsPerSec, `${result.system}: its median round`).toBe(
        [...rates].sort((a, b) => a - b)[1],
      );
      expect({ lost: result.lost, duplicates: result.duplicates }, result.system).toEqual({
        lost: 0,
        duplicates: 0,
      });
    }
    const [engine, seedPort] = report.results;
    const byRound = engine!.rounds!.eventsPerSec.map((rate, i) => rate / seedPort!.rounds!.eventsPerSec[i]!);
    expect(report.engineRatios).toEqual([
      { system: 'seed-port', byRound, median: [...byRound].sort((a, b) => a - b)[1] },
    ]);
  });

  it('rotates the order so each system leads in turn', () => {
    expect([0, 1, 2, 3].map((round) => rotated(['a', 'b', 'c'], round))).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
      ['a', 'b', 'c'],
    ]);
  });

  it('keeps the median round by events/s, and adds up every round’s lost and duplicated events', () => {
    const run = (eventsPerSec: number, lost: number, duplicates: number): SystemResult => ({
      system: 'engine',
      events: eventsPerSec,
      seconds: 1,
      eventsPerSec,
      latencyMs: { p50: eventsPerSec, p90: 1, p99: 1, p999: 1, max: 1 },
      peakRssMiB: 1,
      maxQueueDepth: 1,
      lost,
      duplicates,
      deadLettered: 0,
      cpuUsPerEvent: eventsPerSec / 1000,
    });
    const merged = medianRound([run(300, 0, 0), run(100, 2, 0), run(200, 0, 1), run(400, 0, 0)]);
    // The lower middle of four: 200 events/s, with that round's own figures.
    expect(merged.eventsPerSec).toBe(200);
    expect(merged.latencyMs.p50).toBe(200);
    expect({ lost: merged.lost, duplicates: merged.duplicates }).toEqual({ lost: 2, duplicates: 1 });
    expect(merged.rounds).toEqual({
      eventsPerSec: [300, 100, 200, 400],
      cpuUsPerEvent: [0.3, 0.1, 0.2, 0.4],
    });
  });
});

announcePostgres('harness/bench-run');

describe.skipIf(postgresSkip)('runBench on the postgres scenario', () => {
  const previous = process.env.DATABASE_URL;
  let reachable = false;

  beforeAll(() => {
    requirePostgres();
    reachable = true;
    // The bench's PostgreSQL sink reads DATABASE_URL (worker threads inherit it when they start).
    process.env.DATABASE_URL = POSTGRES_URL;
  });

  afterAll(async () => {
    if (previous === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previous;
    if (!reachable) return;
    // Each system writes to its own table, named after this process: drop them.
    await withClient(async (client) => {
      const { rows } = await client.query<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename ~ $1`,
        [`^(engine|seed|per_event)_${process.pid}_[0-9]+$`],
      );
      for (const { name } of rows) await client.query(`DROP TABLE IF EXISTS "${name}"`);
    });
  });

  it('runs the postgres scenario through every system with every event accounted for', async () => {
    const scenario = SCENARIOS.postgres!;
    expectSoundReport(await run(scenario), scenario);
  });
});

describe('the report schema checker', () => {
  it('names a missing field and a mistyped one by their paths', () => {
    const result = {
      system: 'engine',
      events: 10,
      seconds: 1,
      eventsPerSec: 10,
      latencyMs: { p50: 1, p90: 1, p99: 1, p999: 1, max: 1 },
      peakRssMiB: 50,
      maxQueueDepth: 0,
      lost: 0,
      duplicates: 0,
      deadLettered: 0,
    };
    const good = {
      scenario: 'trivial',
      env: { node: 'v20', cpus: 2, commit: 'abc' },
      config: {},
      results: [result],
    };
    expect(benchReportProblems(good)).toEqual([]);
    const { lost: _, ...withoutLost } = result;
    const bad = {
      ...good,
      env: { node: 'v20', cpus: '2', commit: 'abc' },
      results: [{ ...withoutLost, latencyMs: { ...result.latencyMs, p999: null } }],
    };
    expect(benchReportProblems(bad)).toEqual([
      'report.env.cpus must be an integer ≥ 0, got "2"',
      'report.results[0].lost is missing',
      'report.results[0].latencyMs.p999 must be a finite number ≥ 0, got null',
    ]);
  });
});
