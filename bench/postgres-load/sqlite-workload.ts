import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport, SystemResult } from '../../src/harness/bench-report.js';
import { median } from '../lib/env.js';
import { type BenchContext, pickSystems, type WorkloadResult } from './bench-context.js';
import { failureOf, startChild } from './child-run.js';
import { fmt, markdownTable } from './markdown-table.js';
import { markLoad, otherLoadSince } from './other-load.js';
import { reapedChildrenCpuUs } from './proc-stat.js';
import { roundOrder } from './round-order.js';
import { SLUICE_CLI } from './sluice-cli-system.js';

const CEILING_SCRIPT = new URL('./sqlite-ceiling-script.js', import.meta.url).pathname;
/** The ceiling, then the systems of `sluice bench` this workload runs. */
const SYSTEMS = [{ name: 'ceiling' }, { name: 'engine' }, { name: 'seed-port' }];

interface CeilingRun {
  events: number;
  /** Rows inserted in `seconds` (the rest warmed up first). */
  timed: number;
  stored: number;
  seconds: number;
  cpuUs: number;
  otherLoadCores?: number;
}

async function ceiling(context: BenchContext, dir: string): Promise<CeilingRun> {
  const { flags } = context;
  const outcome = await startChild({
    label: 'sqlite-ceiling',
    command: process.execPath,
    args: [CEILING_SCRIPT, join(dir, 'ceiling.db'), String(flags.events)],
    cwd: dir,
    timeoutMs: flags.timeoutMs,
  }).done;
  const failure = failureOf(outcome, flags.timeoutMs);
  if (failure) throw new Error(failure);
  const run = JSON.parse(outcome.stdout.trim().split('\n').pop()!) as CeilingRun;
  if (run.stored !== run.events) throw new Error(`the ceiling stored ${run.stored} rows of ${run.events}`);
  return run;
}

/** `sluice bench --scenario sqlite` for the engine and seed-port, in `order`; its --json report's results. */
async function sluiceBench(context: BenchContext, dir: string, order: string[]): Promise<SystemResult[]> {
  const { flags } = context;
  const json = join(dir, 'bench.json');
  const outcome = await startChild({
    label: 'sluice-bench',
    command: process.execPath,
    args: [
      SLUICE_CLI,
      'bench',
      '--scenario',
      'sqlite',
      '--systems',
      order.join(','),
      '--duration',
      String(flags.durationS),
      '--json',
      json,
    ],
    cwd: dir,
    timeoutMs: flags.timeoutMs,
  }).done;
  const failure = failureOf(outcome, flags.timeoutMs);
  if (failure) throw new Error(failure);
  return (JSON.parse(readFileSync(json, 'utf8')) as BenchReport).results;
}

/**
 * Workload 3: the embedded default (`npm start`'s scenario: objects pushed, one field added, the
 * SQLite sink) beside the most one writer can put into one SQLite file, in the same invocation.
 */
export async function sqliteWorkload(context: BenchContext): Promise<WorkloadResult> {
  const { flags, env } = context;
  const picked = pickSystems(SYSTEMS, flags.systems).map((s) => s.name);
  const benchSystems = picked.filter((name) => name !== 'ceiling');
  const steps = [
    ...(picked.includes('ceiling') ? ['ceiling'] : []),
    ...(benchSystems.length > 0 ? ['bench'] : []),
  ];
  const ceilings: CeilingRun[] = [];
  const bench: (SystemResult & { otherLoadCores?: number })[] = [];
  for (let round = 0; round < flags.rounds; round++) {
    for (const step of roundOrder(steps, round)) {
      const dir = mkdtempSync(join(context.root, `${step}-`));
      const load = markLoad();
      const cpu = reapedChildrenCpuUs();
      // The whole step's: sluice bench runs its systems one after the other in one process.
      const otherLoad = () => otherLoadSince(load, reapedChildrenCpuUs() - cpu).otherLoadCores;
      try {
        if (step === 'ceiling') {
          const run = await ceiling(context, dir);
          ceilings.push({ ...run, otherLoadCores: otherLoad() });
          console.error(
            `round ${round + 1}/${flags.rounds} ceiling: ${fmt(run.timed / run.seconds)} events/s`,
          );
        } else {
          const results = await sluiceBench(context, dir, roundOrder(benchSystems, round));
          const otherLoadCores = otherLoad();
          bench.push(...results.map((r) => ({ ...r, otherLoadCores })));
          console.error(
            `round ${round + 1}/${flags.rounds} sluice bench: ${results.map((r) => `${r.system} ${fmt(r.eventsPerSec)} events/s`).join(', ')}`,
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const ceilingRate = ceilings.length > 0 ? median(ceilings.map((c) => c.timed / c.seconds)) : Number.NaN;
  const ceilingCpu = ceilings.length > 0 ? median(ceilings.map((c) => c.cpuUs / c.timed)) : Number.NaN;
  const rows: string[][] = [];
  if (ceilings.length > 0) {
    rows.push([
      'SQLite ceiling: 1 thread, better-sqlite3, pre-built rows',
      fmt(ceilingRate),
      '1.00',
      fmt(ceilingCpu, 2),
      '0',
      '0',
      fmt(median(ceilings.map((c) => c.otherLoadCores ?? Number.NaN)), 2),
      ceilings.map((c) => fmt(c.timed / c.seconds / 1000, 1)).join(', '),
    ]);
  }
  const summaries = benchSystems.map((system) => {
    const runs = bench.filter((r) => r.system === system);
    const rate = median(runs.map((r) => r.eventsPerSec));
    const cpu = runs.every((r) => r.cpuUsPerEvent !== undefined)
      ? median(runs.map((r) => r.cpuUsPerEvent!))
      : undefined;
    const lost = runs.reduce((sum, r) => sum + r.lost, 0);
    const duplicates = runs.reduce((sum, r) => sum + r.duplicates, 0);
    rows.push([
      `sluice bench ${system}`,
      fmt(rate),
      fmt(rate / ceilingRate, 2),
      fmt(cpu, 2),
      String(lost),
      String(duplicates),
      fmt(median(runs.map((r) => r.otherLoadCores ?? Number.NaN)), 2),
      runs.map((r) => fmt(r.eventsPerSec / 1000, 1)).join(', '),
    ]);
    return {
      system,
      eventsPerSec: rate,
      ofCeiling: Number.isNaN(ceilingRate) ? null : rate / ceilingRate,
      cpuUsPerEvent: cpu,
      lost,
      duplicates,
    };
  });
  const engine = summaries.find((s) => s.system === 'engine');
  const seedPort = summaries.find((s) => s.system === 'seed-port');
  const engineOverSeedPort = engine && seedPort ? engine.eventsPerSec / seedPort.eventsPerSec : undefined;
  const lines = [
    '### The embedded default: objects, one field added, SQLite',
    '',
    `Median of ${flags.rounds} round(s), the order rotated each round. \`sluice bench --scenario sqlite --systems ${benchSystems.join(',')} --duration ${flags.durationS}\` ` +
      `(2 producer threads, ${env.cpus} workers; CPU is the whole bench process's, producers included) beside the single-writer ceiling over ${flags.events.toLocaleString('en-US')} rows. ` +
      `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), commit ${env.commit}, ${env.date}.`,
    '',
    markdownTable(
      [
        'system',
        'events/s',
        '÷ ceiling',
        'CPU µs/event',
        'lost',
        'duplicates',
        'other load, cores',
        'k events/s by round',
      ],
      rows,
    ),
    ...(engineOverSeedPort === undefined
      ? []
      : ['', `engine ÷ seed-port: ${engineOverSeedPort.toFixed(2)}×`]),
  ];
  return {
    markdown: lines.join('\n'),
    json: {
      workload: 'sqlite',
      rounds: flags.rounds,
      ceiling:
        ceilings.length > 0
          ? { events: flags.events, eventsPerSec: ceilingRate, cpuUsPerEvent: ceilingCpu, runs: ceilings }
          : null,
      sluiceBench: {
        durationSeconds: flags.durationS,
        systems: summaries,
        engineOverSeedPort: engineOverSeedPort ?? null,
        runs: bench,
      },
    },
  };
}
