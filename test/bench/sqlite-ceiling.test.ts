import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CeilingRun } from '../../bench/sqlite-ceiling/ceiling-run.js';
import type { SystemResult } from '../../src/harness/bench-report.js';

const SCRIPT = fileURLToPath(new URL('../../dist/bench/sqlite-ceiling/sqlite-ceiling.js', import.meta.url));
const CEILING = fileURLToPath(new URL('../../dist/bench/sqlite-ceiling/ceiling-script.js', import.meta.url));

describe('npm run bench:sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-ceiling-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every ceiling, the bench and the one-thread path in a round, each ceiling storing every row once', () => {
    const json = join(dir, 'report.json');
    const run = spawnSync(
      process.execPath,
      [SCRIPT, '--rounds', '1', '--events', '20000', '--duration', '1', '--json', json],
      { encoding: 'utf8', timeout: 170_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.env).toMatchObject({ node: process.version, cpus: availableParallelism() });
    expect(report).toMatchObject({ rounds: 1, events: 20_000, durationSeconds: 1 });
    const [round] = report.runs;
    const ceilings = round.ceilings as Record<string, CeilingRun>;
    expect(Object.keys(ceilings).sort()).toEqual(['row', 'sink', 'statement']);
    for (const [mode, ceiling] of Object.entries(ceilings)) {
      expect(ceiling).toMatchObject({ mode, events: 20_000, stored: 20_000 });
      // The first tenth warms up untimed, in whole transactions of 1000.
      expect(ceiling.timed).toBe(18_000);
      expect(ceiling.seconds).toBeGreaterThan(0);
    }
    const results = round.bench.results as SystemResult[];
    expect(results.map((r) => r.system).sort()).toEqual(['engine', 'seed-port']);
    for (const result of results) {
      expect(result).toMatchObject({ lost: 0, duplicates: 0 });
      expect(result.events).toBeGreaterThan(0);
    }
    for (const path of ['seedPort', 'engine', 'spliced']) expect(round.path[path]).toBeGreaterThan(0);
    expect(report.engineOverSeedPort).toHaveLength(1);
    for (const label of [
      'ceiling: one statement per row',
      'ceiling: multi-row statements',
      'sluice bench engine',
    ])
      expect(run.stdout).toContain(`| ${label} |`);
  }, 180_000);

  it('refuses a ceiling mode it does not know, naming the modes', () => {
    const run = spawnSync(process.execPath, [CEILING, join(dir, 'x.db'), '100', 'bulk'], {
      encoding: 'utf8',
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('row|statement|sink');
  });
});
