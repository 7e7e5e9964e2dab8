import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const SYSTEMS = ['sluice', 'psql-copy', 'node-copy', 'python-asyncpg', 'node-script'];
/** These need nothing but Node and the server: they must run wherever the suite does. */
const ALWAYS_AVAILABLE = ['sluice', 'node-copy', 'node-script'];

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

    const sluice = summaries[0]!.roles?.sluice;
    expect(sluice?.workerThreads).toBeGreaterThanOrEqual(1);
    expect(sluice?.mainUsPerEvent).toBeGreaterThan(0);
    expect(sluice?.workersUsPerEvent).toBeGreaterThan(0);

    const left = await withClient((client) =>
      client.query('SELECT tablename FROM pg_tables WHERE tablename LIKE $1', [`pgload_${report.tag}_%`]),
    );
    expect(left.rows).toEqual([]);
  }, 180_000);
});
