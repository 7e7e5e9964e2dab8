/**
 * `npm start`'s scenario against what SQLite itself can take: in each round, one after the other
 * (never two at once), the single-writer ceilings of ceiling-script.ts — one statement per row,
 * the sink's multi-row statements, Sluice's SqliteSink alone — and `sluice bench --scenario sqlite
 * --systems engine,seed-port`, and the scenario's event path in one thread (path-script.ts), the
 * order rotated every round. Medians over the rounds; the ratios
 * are taken within each round (the engine against the seed-port of its own `sluice bench` run and
 * the ceilings of its own round), then their median. Each step's other load on the machine (cores
 * busy with work that was not the step's) is reported beside it.
 *
 *   npm run bench:sqlite -- [--rounds 3] [--events 1000000] [--duration 5] [--json FILE]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchReport, SystemResult } from '../../src/harness/bench-report.js';
import { benchEnv, flag, median } from '../lib/env.js';
import { failureOf, startChild } from '../postgres-load/child-run.js';
import { fmt, markdownTable } from '../postgres-load/markdown-table.js';
import { markLoad, otherLoadSince } from '../postgres-load/other-load.js';
import { reapedChildrenCpuUs } from '../postgres-load/proc-stat.js';
import { roundOrder } from '../postgres-load/round-order.js';
import { type CeilingMode, type CeilingRun, MODES } from './ceiling-run.js';

const CEILING_SCRIPT = new URL('./ceiling-script.js', import.meta.url).pathname;
const PATH_SCRIPT = new URL('./path-script.js', import.meta.url).pathname;
const SLUICE_CLI = new URL('../../src/cli/sluice.js', import.meta.url).pathname;
const BENCH_SYSTEMS = ['engine', 'seed-port'] as const;
const TIMEOUT_MS = 600_000;

const LABELS: Record<CeilingMode, string> = {
  row: 'ceiling: one statement per row',
  statement: 'ceiling: multi-row statements',
  sink: 'SqliteSink alone, batches of 1000',
};

function positive(name: string, fallback: number): number {
  const text = flag(name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** path-script.ts's line: CPU µs per event of each path in one thread. */
interface PathCost {
  seedPort: number;
  engine: number;
  parsed: number;
  spliced: number;
}

interface Round {
  ceilings: Partial<Record<CeilingMode, CeilingRun & { otherLoadCores: number }>>;
  bench?: { results: SystemResult[]; otherLoadCores: number };
  path?: PathCost;
}

async function run(label: string, args: string[], dir: string): Promise<string> {
  const outcome = await startChild({
    label,
    command: process.execPath,
    args,
    cwd: dir,
    timeoutMs: TIMEOUT_MS,
  }).done;
  const failure = failureOf(outcome, TIMEOUT_MS);
  if (failure) throw new Error(failure);
  return outcome.stdout;
}

async function ceiling(mode: CeilingMode, events: number, dir: string): Promise<CeilingRun> {
  const stdout = await run(
    `ceiling-${mode}`,
    [CEILING_SCRIPT, join(dir, 'ceiling.db'), String(events), mode],
    dir,
  );
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as CeilingRun;
  if (result.stored !== result.events)
    throw new Error(`the ${mode} ceiling stored ${result.stored} rows of ${result.events}`);
  return result;
}

async function sluiceBench(order: string[], durationS: number, dir: string): Promise<SystemResult[]> {
  const json = join(dir, 'bench.json');
  await run(
    'sluice-bench',
    [
      SLUICE_CLI,
      'bench',
      '--scenario',
      'sqlite',
      '--systems',
      order.join(','),
      '--duration',
      String(durationS),
      '--json',
      json,
    ],
    dir,
  );
  const results = (JSON.parse(readFileSync(json, 'utf8')) as BenchReport).results;
  const wrong = results.find((r) => r.lost > 0 || r.duplicates > 0);
  if (wrong) throw new Error(`${wrong.system} lost ${wrong.lost} and duplicated ${wrong.duplicates} events`);
  return results;
}

const rateOf = (c: CeilingRun) => c.timed / c.seconds;

async function main(): Promise<void> {
  const rounds = positive('rounds', 3);
  // About what `sluice bench` writes into its file in 5 s: a ceiling measured on a smaller B-tree
  // would be measured on a faster one.
  const events = positive('events', 1_000_000);
  const durationS = positive('duration', 5);
  const jsonFile = flag('json');
  const env = benchEnv();
  const steps = [...MODES, 'bench', 'path'] as const;
  const done: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    const current: Round = { ceilings: {} };
    for (const step of roundOrder(steps, round)) {
      const dir = mkdtempSync(join(tmpdir(), `sluice-sqlite-${step}-`));
      const load = markLoad();
      const cpu = reapedChildrenCpuUs();
      const otherLoad = () => otherLoadSince(load, reapedChildrenCpuUs() - cpu).otherLoadCores;
      try {
        if (step === 'path') {
          const stdout = await run('path', [PATH_SCRIPT], dir);
          current.path = JSON.parse(stdout.trim().split('\n').pop()!) as PathCost;
          console.error(
            `round ${round + 1}/${rounds} one-thread path: seed-port ${fmt(current.path.seedPort, 2)}, engine ${fmt(current.path.engine, 2)} µs/event`,
          );
        } else if (step === 'bench') {
          const results = await sluiceBench(roundOrder(BENCH_SYSTEMS, round), durationS, dir);
          current.bench = { results, otherLoadCores: otherLoad() };
          console.error(
            `round ${round + 1}/${rounds} sluice bench: ${results.map((r) => `${r.system} ${fmt(r.eventsPerSec)}/s`).join(', ')}`,
          );
        } else {
          const result = await ceiling(step, events, dir);
          current.ceilings[step] = { ...result, otherLoadCores: otherLoad() };
          console.error(`round ${round + 1}/${rounds} ${LABELS[step]}: ${fmt(rateOf(result))} rows/s`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    done.push(current);
  }

  const perRowCeiling = (r: Round) => rateOf(r.ceilings.row!);
  const systemOf = (r: Round, system: string) => r.bench!.results.find((s) => s.system === system)!;
  const rows: string[][] = MODES.map((mode) => {
    const runs = done.map((r) => r.ceilings[mode]!);
    return [
      LABELS[mode],
      fmt(median(runs.map(rateOf))),
      fmt(median(runs.map((c) => c.cpuUs / c.timed)), 2),
      fmt(median(done.map((r) => rateOf(r.ceilings[mode]!) / perRowCeiling(r))), 2),
      runs.map((c) => fmt(rateOf(c) / 1000, 1)).join(', '),
      fmt(median(runs.map((c) => c.otherLoadCores)), 2),
    ];
  });
  for (const system of BENCH_SYSTEMS) {
    const runs = done.map((r) => systemOf(r, system));
    rows.push([
      `sluice bench ${system}`,
      fmt(median(runs.map((s) => s.eventsPerSec))),
      fmt(median(runs.map((s) => s.cpuUsPerEvent ?? Number.NaN)), 2),
      fmt(median(done.map((r) => systemOf(r, system).eventsPerSec / perRowCeiling(r))), 2),
      runs.map((s) => fmt(s.eventsPerSec / 1000, 1)).join(', '),
      fmt(median(done.map((r) => r.bench!.otherLoadCores)), 2),
    ]);
  }
  const engineOverSeedPort = done.map(
    (r) => systemOf(r, 'engine').eventsPerSec / systemOf(r, 'seed-port').eventsPerSec,
  );
  const engineOverStatement = done.map(
    (r) => systemOf(r, 'engine').eventsPerSec / rateOf(r.ceilings.statement!),
  );
  const path = (key: keyof PathCost) => median(done.map((r) => r.path![key]));
  const sinkUs = median(done.map((r) => r.ceilings.sink!.cpuUs / r.ceilings.sink!.timed));
  // Each system's CPU per event if nothing but its path and the sink cost anything: seed-port in one
  // thread, the engine on every core with no hand-off, no producer, no contention.
  const bound = (engineUs: number) => (env.cpus * (path('seedPort') + sinkUs)) / (engineUs + sinkUs);
  const lines = [
    `## SQLite: \`sluice bench --scenario sqlite\` against the single-writer ceiling`,
    '',
    `${rounds} round(s), the order rotated each round; ceilings over ${events.toLocaleString('en-US')} rows ` +
      `(transactions of 1000, WAL, synchronous=NORMAL), \`sluice bench\` ${durationS} s per system, 2 producer threads, ` +
      `${env.cpus} workers; CPU is the whole process's. Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), ` +
      `commit ${env.commit}, ${env.date}.`,
    '',
    markdownTable(
      [
        'system',
        'rows or events/s',
        'CPU µs/row or event',
        '÷ per-row ceiling',
        'k/s by round',
        'other load, cores',
      ],
      rows,
    ),
    '',
    `engine ÷ seed-port (same run): ${fmt(median(engineOverSeedPort), 2)}× (${engineOverSeedPort.map((x) => x.toFixed(2)).join(', ')})`,
    `engine ÷ multi-row ceiling (same round): ${fmt(median(engineOverStatement), 2)} (${engineOverStatement.map((x) => x.toFixed(2)).join(', ')})`,
    '',
    `One thread, no sink, CPU µs/event (path-script.ts): seed-port ${fmt(path('seedPort'), 2)}, ` +
      `engine through the ring ${fmt(path('engine'), 2)} (its payload parsed and serialised again: ${fmt(path('parsed'), 2)}), ` +
      `the ring with nothing but the field spliced into the payload's text ${fmt(path('spliced'), 2)}; ` +
      `SqliteSink ${fmt(sinkUs, 2)} µs/row. With nothing else costing anything, ${env.cpus} cores bound engine ÷ seed-port at ` +
      `${env.cpus} × (${fmt(path('seedPort'), 2)} + ${fmt(sinkUs, 2)}) ÷ (${fmt(path('engine'), 2)} + ${fmt(sinkUs, 2)}) = ${fmt(bound(path('engine')), 2)}×; ` +
      `with the payload parsed, ${fmt(bound(path('parsed')), 2)}×; with nothing but the splice, ${fmt(bound(path('spliced')), 2)}×.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (jsonFile)
    writeFileSync(
      jsonFile,
      `${JSON.stringify({ env, rounds, events, durationSeconds: durationS, runs: done, engineOverSeedPort }, null, 2)}\n`,
    );
}

await main();
