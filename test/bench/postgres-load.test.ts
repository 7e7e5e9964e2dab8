import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventId, writeEventFile } from '../../bench/postgres-load/event-file.js';
import type { RunFigures } from '../../bench/postgres-load/measure-run.js';
import type { SystemSummary } from '../../bench/postgres-load/system-summary.js';
import {
  announcePostgres,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

const SCRIPT = fileURLToPath(new URL('../../dist/bench/postgres-load/postgres-load.js', import.meta.url));
const DRIVER = fileURLToPath(
  new URL('../../dist/bench/postgres-load/sluice-driver-script.js', import.meta.url),
);
const SYSTEMS = ['sluice', 'psql-copy', 'node-copy', 'python-asyncpg', 'node-script', 'copy-ceiling'];
/** These need nothing but Node and the server: they must run wherever the suite does. */
const ALWAYS_AVAILABLE = ['sluice', 'node-copy', 'node-script', 'copy-ceiling'];

announcePostgres('bench/postgres-load');

describe.skipIf(postgresSkip)('npm run bench:postgres-load -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgload-test-'));
  beforeAll(requirePostgres);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the same file through every available system, each storing every line, and leaves no table behind', async () => {
    const json = join(dir, 'report.json');
    const run = spawnSync(process.execPath, [SCRIPT, '--quick', '--json', json], {
      encoding: 'utf8',
      timeout: 170_000,
      env: { ...process.env, POSTGRES_URL },
    });
    expect(run.status, run.stderr).toBe(0);

    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.env).toMatchObject({ node: process.version, cpus: availableParallelism() });
    expect(report.env.commit).toMatch(/^[0-9a-f]{7,}(-dirty)?$/);
    expect(Number.isNaN(Date.parse(report.env.date))).toBe(false);
    expect(report).toMatchObject({ workload: 'ndjson', events: 20_000, rounds: 1 });
    expect(report.sluiceWorkers.max).toBe(availableParallelism());

    const summaries = report.systems as SystemSummary[];
    expect(summaries.map((s) => s.system)).toEqual(SYSTEMS);
    for (const summary of summaries) {
      if (summary.status === 'skipped') {
        expect(ALWAYS_AVAILABLE).not.toContain(summary.system);
        expect(summary.reason).toBeTruthy();
        continue;
      }
      expect(summary, summary.reason).toMatchObject({ status: 'ok', rounds: 1 });
      const runs = (report.runs as RunFigures[]).filter((r) => r.system === summary.system);
      expect(runs).toHaveLength(1);
      expect(runs[0]!.failure).toBeUndefined();
      expect(runs[0]!.rows).toBe(20_000);
      expect(runs[0]!.clientCpuUs).toBeGreaterThan(0);
      expect(report.ratios[summary.system] ?? 1).toBeGreaterThan(0);
      expect(run.stdout).toContain(`| ${summary.system} |`);
    }

    // Sluice's rows commit batch by batch: its first batch's transaction began after its spawn and
    // before its last one.
    const [sluiceRun] = (report.runs as RunFigures[]).filter((r) => r.system === 'sluice');
    expect(sluiceRun!.toFirstRowSeconds).toBeGreaterThan(0);
    expect(sluiceRun!.toFirstRowSeconds).toBeLessThan(sluiceRun!.toLastRowSeconds!);
    expect(sluiceRun!.toLastRowSeconds).toBeLessThanOrEqual(sluiceRun!.seconds);
    expect(run.stdout).toMatch(
      /Spawn → first row \d+\.\d\d s .*→ last row \d+\.\d\d s, → exit \d+\.\d\d s\./,
    );

    // The ceiling (Sluice's rows, encoded beforehand) is set against every peer that ran.
    expect(run.stdout).toMatch(
      /copy-ceiling is the bound, not a peer: .* Its rate over each peer's: .*node-copy \d+\.\d\d×/,
    );

    // Every system that loaded the file ran again on a one-line file: one row stored, its time and
    // CPU read, and its rate past that one-line time set beside Sluice's.
    const startup = report.startup;
    expect(startup).toMatchObject({ events: 1, rounds: 1 });
    const ran = summaries.filter((s) => s.status === 'ok').map((s) => s.system);
    expect(ran).toEqual(expect.arrayContaining(ALWAYS_AVAILABLE));
    expect((startup.systems as SystemSummary[]).map((s) => s.system)).toEqual(ran);
    for (const name of ran) {
      const oneLine = (startup.runs as RunFigures[]).filter((r) => r.system === name);
      expect(oneLine).toHaveLength(1);
      expect(oneLine[0]!.failure).toBeUndefined();
      expect(oneLine[0]!.rows).toBe(1);
      expect(oneLine[0]!.clientCpuUs).toBeGreaterThan(0);
      // The one-line run takes less than the 20 000-line one, so the rate past it is above the
      // whole run's.
      const whole = summaries.find((s) => s.system === name)!.eventsPerSec!;
      expect(startup.eventsPerSecPastStartup[name]).toBeGreaterThan(whole);
      expect(run.stdout).toMatch(
        new RegExp(`\\| ${name} \\| \\d+\\.\\d\\d \\| [\\d,]+ \\| [\\d,]+ \\| \\d+\\.\\d\\d× \\|`),
      );
    }
    expect(startup.ratiosPastStartup['node-copy']).toBeCloseTo(
      startup.eventsPerSecPastStartup.sluice / startup.eventsPerSecPastStartup['node-copy'],
      6,
    );
    expect(run.stdout).toMatch(
      /Sluice's one-line run by thread, CPU ms: main [\d,]+, \d+ worker thread\(s\) [\d,]+, V8 & libuv helpers [\d,]+ \(total [\d,]+\)\./,
    );

    const sluice = summaries[0]!.roles?.sluice;
    expect(sluice?.workerThreads).toBeGreaterThanOrEqual(1);
    expect(sluice?.mainUsPerEvent).toBeGreaterThan(0);
    expect(sluice?.workersUsPerEvent).toBeGreaterThan(0);

    const left = await withClient((client) =>
      client.query('SELECT tablename FROM pg_tables WHERE tablename LIKE $1', [`pgload_${report.tag}_%`]),
    );
    expect(left.rows).toEqual([]);
  }, 180_000);

  it("the cpu-heavy workload's Sluice driver stores every line once and reports its timed span's CPU", async () => {
    const file = join(dir, 'driver.ndjson');
    const events = 3000;
    await writeEventFile(file, events);
    const table = `pgload_driver_${process.pid}`;
    try {
      const run = spawnSync(process.execPath, [DRIVER, POSTGRES_URL, file, table], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, SLUICE_BENCH_COST_ROUNDS: '1' },
      });
      expect(run.status, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
      expect(report).toMatchObject({ written: events, deadLettered: 0 });
      expect(report.lastRowAtMs).toBeGreaterThanOrEqual(report.startedAtMs);
      // Every thread's CPU over the span, µs: parsing and transforming a line takes more than 1 µs,
      // and no more CPU can be used than every core over the span's wall time (a reading taken
      // from the process's start, its start-up included, would not fit).
      expect(report.spanCpuUs).toBeGreaterThan(events);
      expect(report.spanCpuUs).toBeLessThanOrEqual(
        (report.lastRowAtMs - report.startedAtMs) * 1000 * availableParallelism() + 20_000,
      );
      const rows = await withClient((client) =>
        client.query(`SELECT id FROM "${table}"`).then((r) => r.rows.map((row) => row.id as string)),
      );
      rows.sort();
      const expected = Array.from({ length: events }, (_, seq) => eventId(seq)).sort();
      expect(rows).toEqual(expected);
    } finally {
      await withClient((client) => client.query(`DROP TABLE IF EXISTS "${table}"`));
    }
  }, 90_000);
});

describe("the cpu-heavy workload's Sluice driver", () => {
  // Needs no server: the options are refused before anything connects.
  it('passes its optional WORKERS_JSON to createPipeline (a bad value is refused, naming it)', () => {
    const run = spawnSync(
      process.execPath,
      [DRIVER, POSTGRES_URL, join(tmpdir(), 'unread.ndjson'), 'pgload_unused', JSON.stringify({ max: 0 })],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/workers\.max must be .*got 0/);
  });
});
