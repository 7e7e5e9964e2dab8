/**
 * `sluice bench --config`, run as a user runs it (the built CLI in a child process): a pipeline
 * with its own transform file and the SQLite sink, benchmarked as the engine, the same work in one
 * thread and the sink alone, every event accounted for by id — written, dead-lettered by the
 * transform's validation, or filtered out by it — and read back from the database.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport, SystemResult } from '../../src/harness/bench-report.js';
import { benchReportProblems } from '../harness/bench-report-schema.js';
import { runCli } from '../helpers/cli.js';

/** Runs the built CLI to completion (killed after a generous watchdog, so a hang fails, not stalls). */
const sluice = (...args: string[]) => runCli(args, { timeoutMs: 90_000 });

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The events file: 200 orders; every 10th a test order (filtered), every 25th without items (invalid). */
const LINES = 200;
const isTest = (i: number) => i % 10 === 0;
const isInvalid = (i: number) => i % 25 === 7;

/** A pipeline directory: transform, events and config, as a user would write them. */
function pipelineDir(config: (dir: string) => string): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-config-'));
  dirs.push(dir);
  writeFileSync(
    join(dir, 'transform.mjs'),
    [
      "import { createHash } from 'node:crypto';",
      "export const validate = (e) => (Array.isArray(e.payload.items) && e.payload.items.length > 0) || 'no items';",
      'export default function (e) {',
      '  if (e.payload.test) return null;',
      "  const customer = createHash('sha256').update(e.payload.customer).digest('hex');",
      '  return { key: customer, payload: { order: e.payload.order, customer, items: e.payload.items.length } };',
      '}',
    ].join('\n'),
  );
  const lines = Array.from({ length: LINES }, (_, i) =>
    JSON.stringify({
      order: `o-${i}`,
      customer: `c-${i % 13}`,
      items: isInvalid(i) ? [] : [{ sku: i % 7 }],
      ...(isTest(i) ? { test: true } : {}),
    }),
  );
  writeFileSync(join(dir, 'orders.ndjson'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'pipeline.yaml'), config(dir));
  return { dir, config: join(dir, 'pipeline.yaml') };
}

const SQLITE_PIPELINE = () => `
source: { type: ndjson, path: orders.ndjson }
transform: ./transform.mjs
sink: { type: sqlite, path: out.db }
deadLetter: { type: ndjson, path: dead.ndjson }
workers: { min: 1, max: 1 }
batch: { maxRecords: 100 }
`;

/** Of the events with sequence numbers [0, n) — line seq % LINES each — those matching `which`. */
function countOf(n: number, which: (line: number) => boolean): number {
  let count = 0;
  for (let seq = 0; seq < n; seq++) if (which(seq % LINES)) count++;
  return count;
}

function byName(report: BenchReport): Record<string, SystemResult> {
  return Object.fromEntries(report.results.map((r) => [r.system, r]));
}

describe('sluice bench --config with a transform file and the SQLite sink', () => {
  it('runs the engine, the single thread and the sink alone, every event accounted for by id, and says what bounds the pipeline', async () => {
    const { dir, config } = pipelineDir(SQLITE_PIPELINE);
    const json = join(dir, 'report.json');
    const out = join(dir, 'report');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--duration',
      '1',
      '--producers',
      '1',
      '--json',
      json,
      '--out',
      out,
    );
    expect(run.stderr).not.toContain('internal error');
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    expect(benchReportProblems(report)).toEqual([]);
    expect(report.results.map((r) => r.system)).toEqual(['engine', 'single-thread', 'sink-alone']);
    const systems = byName(report);
    for (const r of report.results) {
      expect({ system: r.system, lost: r.lost, duplicates: r.duplicates }).toEqual({
        system: r.system,
        lost: 0,
        duplicates: 0,
      });
      expect(r.events, r.system).toBeGreaterThan(0);
      expect(r.mainThread?.eventLoopDelayP99Ms, r.system).toBeGreaterThanOrEqual(0);
      expect(r.mainThread?.cpuUsPerEvent, r.system).toBeGreaterThanOrEqual(0);
    }
    // One producer pushes sequence numbers [0, n): which of them the transform filtered out and
    // which its validation dead-lettered follows from the file, event by event.
    for (const name of ['engine', 'single-thread']) {
      const r = systems[name]!;
      const n = r.events + (r.filtered ?? 0) + r.deadLettered;
      expect({ name, filtered: r.filtered, dead: r.deadLettered, written: r.events }).toEqual({
        name,
        filtered: countOf(n, (i) => isTest(i) && !isInvalid(i)),
        dead: countOf(n, isInvalid),
        written: countOf(n, (i) => !isTest(i) && !isInvalid(i)),
      });
    }
    expect(systems['sink-alone']!.deadLettered).toBe(0);
    // The engine's stages, measured per event (in the ring, decode + transform, sink write), add up
    // to within 10 % of the mean push → ack latency the batches reported — two independent sets of
    // counters (the stage sums in shared memory, the latencies the workers reported per batch).
    const stages = systems.engine!.stages!;
    expect(stages.batches).toBeGreaterThan(0);
    expect(stages.measured).toBe(true);
    const sum = stages.queueWaitMs + stages.decodeTransformMs + stages.sinkWriteMs;
    expect(Math.abs(sum - stages.meanLatencyMs)).toBeLessThanOrEqual(stages.meanLatencyMs * 0.1);
    expect(stages.releaseWaitMs).toBeGreaterThanOrEqual(0);
    expect(systems['sink-alone']!.filtered).toBeUndefined();

    // Read back: the configured database holds one row per event written, by every system; the
    // configured dead-letter file one line per dead letter.
    const db = new Database(join(dir, 'out.db'), { readonly: true });
    const rows = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    expect(rows).toBe(report.results.reduce((n, r) => n + r.events, 0));
    const letters = readFileSync(join(dir, 'dead.ndjson'), 'utf8').trim().split('\n');
    expect(letters).toHaveLength(systems.engine!.deadLettered + systems['single-thread']!.deadLettered);

    expect(['sink', 'transform', 'overhead']).toContain(report.bound?.kind);
    expect(run.stdout).toContain(report.bound!.sentence);
    expect(report.bound!.sentence).toMatch(/bounds this pipeline/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain(report.bound!.sentence);
  });

  it('swaps the sink with --sink null: nothing reaches the configured sink or dead-letter file, events still counted', async () => {
    const { dir, config } = pipelineDir(SQLITE_PIPELINE);
    const json = join(dir, 'report.json');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--sink',
      'null',
      '--duration',
      '0.5',
      '--systems',
      'engine,single-thread',
      '--json',
      json,
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    expect(report.results.map((r) => [r.system, r.lost, r.duplicates])).toEqual([
      ['engine', 0, 0],
      ['single-thread', 0, 0],
    ]);
    expect(report.results.every((r) => r.deadLettered > 0 && (r.filtered ?? 0) > 0)).toBe(true);
    expect(existsSync(join(dir, 'out.db'))).toBe(false);
    expect(existsSync(join(dir, 'dead.ndjson'))).toBe(false);
  });

  it('takes events from --events-module, and counts a flatMap’s event once', async () => {
    const { dir, config } = pipelineDir(
      () => `
source: { type: http, port: 0 }
transform: ./split.mjs
sink: { type: "null" }
`,
    );
    writeFileSync(join(dir, 'split.mjs'), 'export default (e) => [e, { payload: { copy: true } }];\n');
    writeFileSync(
      join(dir, 'events.mjs'),
      'export default function* () { for (let n = 0; n < 50; n++) yield { key: "k" + (n % 3), payload: { n } }; }\n',
    );
    const json = join(dir, 'report.json');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--events-module',
      join(dir, 'events.mjs'),
      '--duration',
      '0.5',
      '--json',
      json,
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    for (const r of report.results) {
      expect([r.system, r.lost, r.duplicates, r.deadLettered]).toEqual([r.system, 0, 0, 0]);
      expect(r.events, r.system).toBeGreaterThan(0);
    }
  });

  it('keeps a config’s one named route, its rule and its own dead-letter sink: every event accounted for', async () => {
    const { dir, config } = pipelineDir(
      () => `
source: { type: ndjson, path: orders.ndjson }
transform: ./transform.mjs
routes:
  orders:
    sink: { type: sqlite, path: orders.db }
    deadLetter: { type: ndjson, path: orders-rejected.ndjson }
    when: { path: payload.order, matches: "^o-" }
`,
    );
    const json = join(dir, 'report.json');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--duration',
      '0.5',
      '--producers',
      '1',
      '--systems',
      'engine,single-thread',
      '--json',
      json,
    );
    expect(run.stderr).not.toContain('internal error');
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    for (const r of report.results) {
      const n = r.events + (r.filtered ?? 0) + r.deadLettered;
      expect([r.system, r.lost, r.duplicates, r.filtered, r.deadLettered]).toEqual([
        r.system,
        0,
        0,
        countOf(n, (i) => isTest(i) && !isInvalid(i)),
        countOf(n, isInvalid),
      ]);
    }
    const db = new Database(join(dir, 'orders.db'), { readonly: true });
    const rows = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    expect(rows).toBe(report.results.reduce((n, r) => n + r.events, 0));
    expect(readFileSync(join(dir, 'orders-rejected.ndjson'), 'utf8').trim().split('\n')).toHaveLength(
      report.results.reduce((n, r) => n + r.deadLettered, 0),
    );
  });

  it('--tune tries 1 … CPUs workers at three batch sizes and recommends one of them, printing the config lines', async () => {
    const { dir, config } = pipelineDir(SQLITE_PIPELINE);
    const json = join(dir, 'report.json');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--sink',
      'null',
      '--systems',
      'engine',
      '--duration',
      '1',
      '--tune',
      '--p99-target-ms',
      '600000',
      '--json',
      json,
    );
    expect(run.code).toBe(0);
    const tune = (JSON.parse(readFileSync(json, 'utf8')) as BenchReport).tune!;
    const cpus = availableParallelism();
    expect(tune.trials.map((t) => [t.workers, t.batchMaxRecords])).toEqual(
      Array.from({ length: cpus }, (_, k) => [10, 100, 1000].map((b) => [k + 1, b])).flat(),
    );
    expect(tune.trials.every((t) => t.lost === 0)).toBe(true);
    const recommended = tune.recommended!;
    expect(
      tune.trials.filter(
        (t) => t.workers === recommended.workers && t.batchMaxRecords === recommended.batchMaxRecords,
      ),
    ).toHaveLength(1);
    // Every trial met so loose a target: the recommendation is within 2 % of the best throughput.
    expect(recommended.eventsPerSec).toBeGreaterThanOrEqual(
      0.98 * Math.max(...tune.trials.map((t) => t.eventsPerSec)),
    );
    expect(run.stdout).toContain(`maxRecords: ${recommended.batchMaxRecords}`);
    expect(run.stdout).toContain(`max: ${recommended.workers}`);
  });

  it('--sweep works with --config: the engine offered 10 % … 120 % of its maximum', async () => {
    const { dir, config } = pipelineDir(SQLITE_PIPELINE);
    const json = join(dir, 'report.json');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--sink',
      'null',
      '--systems',
      'engine,sink-alone',
      '--duration',
      '1',
      '--sweep',
      '--json',
      json,
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    expect(report.sweep!.map((p) => [p.system, p.fraction])).toEqual(
      [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.2].map((f) => ['engine', f]),
    );
    expect(report.sweep!.every((p) => p.eventsPerSec > 0)).toBe(true);
  });
});

describe('sluice bench --config refuses what it cannot run, naming the flag or field and the value', () => {
  it.each([
    [['--events', 'x.ndjson'], '--events', '"x.ndjson"'],
    [['--events-module', 'gen.mjs'], '--events-module', '"gen.mjs"'],
    [['--tune'], '--tune', 'true'],
    [['--config', 'p.yaml', '--p99-target-ms', '50'], '--p99-target-ms', '"50"'],
    [['--config', 'p.yaml', '--tune', '--p99-target-ms', 'soon'], '--p99-target-ms', '"soon"'],
    [['--config', 'p.yaml', '--scenario', 'trivial'], '--scenario', '"trivial"'],
    [['--config', 'p.yaml', '--events', 'a', '--events-module', 'b'], '--events-module', '"b"'],
    [['--config', 'p.yaml', '--systems', 'engine,seed-port'], '--systems', '"seed-port"'],
    [['--config', 'p.yaml', '--sink', 'mongo'], '--sink', '"mongo"'],
  ])('refuses %j with exit code 64, naming %s and quoting %s', async (args, flag, value) => {
    const { code, stdout, stderr } = await sluice('bench', ...args);
    expect(code).toBe(64);
    expect(stderr).toContain(flag);
    expect(stderr).toContain(value);
    expect(stdout).not.toContain('sluice bench — scenario');
  });

  it('lists every problem of an invalid config, as sluice run does (exit 64)', async () => {
    const { config } = pipelineDir(
      () =>
        'source: { type: ndjson, path: orders.ndjson }\nsink: { type: sqlite, path: out.db }\nbatch: { maxRecords: 0 }\n',
    );
    const { code, stderr } = await sluice('bench', '--config', config);
    expect(code).toBe(64);
    expect(stderr).toContain('is not a valid config');
    expect(stderr).toContain('batch.maxRecords');
  });

  it('benchmarks a config with several routes — fan-out, rules, a default — on the engine and the single thread, accounting by id across routes and reporting each', async () => {
    // The last digit of the order number picks the routes: 2 → a and c (fan-out), 5 → a, 4/6/8 → c,
    // the rest → b, the default. Digit 0 is a test order (filtered); i % 25 === 7 has no items.
    const { dir, config } = pipelineDir(
      () => `
source: { type: ndjson, path: orders.ndjson }
transform: ./transform.mjs
routes:
  a: { sink: { type: sqlite, path: a.db }, when: { path: payload.order, matches: "[25]$" } }
  b: { sink: { type: ndjson, path: b.ndjson } }
  c: { sink: { type: ndjson, path: c.ndjson }, when: { path: payload.order, matches: "[2468]$" } }
defaultRoute: b
deadLetter: { type: ndjson, path: dead.ndjson }
workers: { min: 1, max: 1 }
batch: { maxRecords: 100 }
`,
    );
    const json = join(dir, 'report.json');
    const run = await sluice(
      'bench',
      '--config',
      config,
      '--duration',
      '0.5',
      '--producers',
      '1',
      '--json',
      json,
    );
    expect(run.stderr).not.toContain('internal error');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    // The engine and the single thread, both routing; no sink alone (there is no one sink).
    expect(report.results.map((r) => r.system)).toEqual(['engine', 'single-thread']);
    const ok = (i: number) => !isTest(i) && !isInvalid(i);
    const digit = (i: number) => i % 10;
    const total = { a: 0, b: 0, c: 0 };
    for (const r of report.results) {
      expect([r.system, r.lost, r.duplicates]).toEqual([r.system, 0, 0]);
      const n = r.events + (r.filtered ?? 0) + r.deadLettered;
      const expected = {
        a: countOf(n, (i) => ok(i) && [2, 5].includes(digit(i))),
        b: countOf(n, (i) => ok(i) && [1, 3, 7, 9].includes(digit(i))),
        c: countOf(n, (i) => ok(i) && [2, 4, 6, 8].includes(digit(i))),
      };
      expect(r.events).toBe(countOf(n, ok));
      expect(r.deadLettered).toBe(countOf(n, isInvalid));
      expect(Object.fromEntries(r.routes!.map((x) => [x.route, [x.written, x.duplicates]]))).toEqual({
        a: [expected.a, 0],
        b: [expected.b, 0],
        c: [expected.c, 0],
      });
      for (const route of ['a', 'b', 'c'] as const) total[route] += expected[route];
    }
    // Read back: each route's sink holds what the two systems say they wrote (ids unique per run).
    const db = new Database(join(dir, 'a.db'), { readonly: true });
    expect((db.prepare('SELECT count(DISTINCT id) AS n FROM events').get() as { n: number }).n).toBe(total.a);
    db.close();
    for (const route of ['b', 'c'] as const)
      expect(
        readFileSync(join(dir, `${route}.ndjson`), 'utf8')
          .trim()
          .split('\n'),
      ).toHaveLength(total[route]);
    expect(run.stdout).toMatch(/engine, by route/);
    expect(run.stdout).toMatch(/single-thread, by route/);

    const refused = await sluice('bench', '--config', config, '--systems', 'engine,sink-alone');
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain(
      '--systems must be engine and/or single-thread for a config with several routes (a, b, c)',
    );
  });

  it('says a missing config file cannot be read (exit 66)', async () => {
    const { code, stderr } = await sluice('bench', '--config', join(tmpdir(), 'no-such-sluice-config.yaml'));
    expect(code).toBe(66);
    expect(stderr).toContain('cannot read');
  });

  it('asks for --events when the config’s source cannot be replayed (an HTTP source)', async () => {
    const { config } = pipelineDir(() => 'source: { type: http, port: 0 }\nsink: { type: "null" }\n');
    const { code, stderr } = await sluice('bench', '--config', config);
    expect(code).toBe(64);
    expect(stderr).toContain('--events');
    expect(stderr).toContain('http source');
  });
});
