import { join } from 'node:path';
import { DEFAULT_WORKER_OPTIONS } from '../../src/config/pipeline-options.js';
import { type BenchContext, pickSystems, type WorkloadResult } from './bench-context.js';
import { CEILING_LANES, copyCeiling } from './copy-ceiling-system.js';
import { writeEventFile } from './event-file.js';
import type { LoadSystem } from './load-system.js';
import { fmt, markdownTable } from './markdown-table.js';
import { POSTGRES_PROCESSES } from './measure-run.js';
import { nodeCopy, nodeInsert } from './node-script-systems.js';
import { psqlCopy } from './psql-copy-system.js';
import { pythonAsyncpg } from './python-asyncpg-system.js';
import { runRounds } from './run-rounds.js';
import { idleServerCpu } from './server-cpu.js';
import {
  sluiceCli,
  sluiceCliConcurrentSweep,
  sluiceCliUnbundled,
  sluiceCliYoung0,
} from './sluice-cli-system.js';
import { notRun, ratioOf, type SystemSummary } from './system-summary.js';

/** Workload 1's systems: Sluice first, then what a user would pick instead. */
export const NDJSON_SYSTEMS: readonly LoadSystem[] = [
  sluiceCli,
  psqlCopy,
  nodeCopy,
  pythonAsyncpg,
  nodeInsert,
  copyCeiling,
];

/** Systems run only when named in --systems. */
export const NDJSON_OPT_IN: readonly LoadSystem[] = [
  sluiceCliYoung0,
  sluiceCliUnbundled,
  sluiceCliConcurrentSweep,
];

/** Workload 1: the NDJSON file into PostgreSQL, idempotent by id. */
export async function ndjsonWorkload(context: BenchContext): Promise<WorkloadResult> {
  const { flags, env } = context;
  const systems = pickSystems(
    [...NDJSON_SYSTEMS, ...NDJSON_OPT_IN],
    flags.systems ?? NDJSON_SYSTEMS.map((s) => s.name),
  );
  const file = join(context.root, 'events.ndjson');
  const fileBytes = await writeEventFile(file, flags.events);
  const serverIdle = await idleServerCpu(POSTGRES_PROCESSES);
  const { summaries, runs } = await runRounds(context, systems, { file, events: flags.events });
  const sluice = summaries.find((s) => s.system === 'sluice' && s.status === 'ok');
  const rows = summaries.map((s) => {
    const ratio = ratioOf(sluice, s);
    if (s.status !== 'ok') return [s.system, s.status, '—', '—', '—', '—', '—', '—', '—'];
    return [
      s.system,
      fmt(s.eventsPerSec),
      fmt(s.seconds, 2),
      ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      fmt(s.clientCpuUsPerEvent, 1),
      fmt(s.serverCpuUsPerEvent, 1),
      fmt(s.walBytesPerEvent),
      fmt(s.otherLoadCores, 2),
      s.eventsPerSecByRound.map((v) => fmt(v / 1000, 1)).join(', '),
    ];
  });
  const workers = DEFAULT_WORKER_OPTIONS;
  const lines = [
    `### NDJSON file → PostgreSQL, ${flags.events.toLocaleString('en-US')} events (${(fileBytes / 1e6).toFixed(1)} MB), idempotent by id`,
    '',
    `Median of ${flags.rounds} round(s), the order rotated each round; every run loads a fresh table and is checked to hold every line. ` +
      `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), commit ${env.commit}, ${env.date}. ` +
      `Sluice: default options (workers ${workers.min}–${workers.max}). ` +
      `PostgreSQL's own CPU with no run going: ${fmt(serverIdle)} µs/s.`,
    '',
    markdownTable(
      [
        'system',
        'events/s',
        's (spawn → exit)',
        'Sluice ÷ it',
        'client CPU µs/event',
        'server CPU µs/event',
        'WAL bytes/event',
        'other load, cores',
        'k events/s by round',
      ],
      rows,
    ),
    ...sluiceLines(sluice),
    ...ceilingLines(summaries),
    ...notRun(summaries),
  ];
  return {
    markdown: lines.join('\n'),
    json: {
      workload: 'ndjson',
      events: flags.events,
      fileBytes,
      rounds: flags.rounds,
      sluiceWorkers: { min: workers.min, max: workers.max },
      serverIdleCpuUsPerSecond: serverIdle,
      systems: summaries,
      ratios: Object.fromEntries(
        summaries.filter((s) => s.system !== 'sluice').map((s) => [s.system, ratioOf(sluice, s) ?? null]),
      ),
      runs,
    },
  };
}

/** Where Sluice's client CPU went, by thread role, and when its last row was written. */
function sluiceLines(sluice: SystemSummary | undefined): string[] {
  const roles = sluice?.roles?.sluice;
  if (!sluice || !roles) return [];
  return [
    '',
    `Sluice's client CPU by thread, µs/event: main ${fmt(roles.mainUsPerEvent, 1)}, ` +
      `${roles.workerThreads} worker thread(s) ${fmt(roles.workersUsPerEvent, 1)}, ` +
      `V8 & libuv helpers ${fmt(roles.helpersUsPerEvent, 1)}, unattributed ${fmt(roles.unattributedUsPerEvent, 1)} ` +
      `(total ${fmt(roles.totalUsPerEvent, 1)}). ` +
      `Spawn → first row ${fmt(sluice.toFirstRowSeconds, 2)} s (start-up: the first batch's transaction began), ` +
      `→ last row ${fmt(sluice.toLastRowSeconds, 2)} s, → exit ${fmt(sluice.seconds, 2)} s.`,
  ];
}

/**
 * What the ceiling says of the run: no client of Sluice's design (a Node process writing these COPY
 * rows over as many connections) beats it, so a peer it is not 1.5× faster than cannot be beaten
 * 1.5× by such a client in that run.
 */
function ceilingLines(summaries: readonly SystemSummary[]): string[] {
  const ceiling = summaries.find((s) => s.system === copyCeiling.name && s.status === 'ok');
  if (ceiling?.eventsPerSec === undefined) return [];
  const peers = summaries.filter(
    (s) => s.system !== copyCeiling.name && s.system !== 'sluice' && s.status === 'ok' && s.eventsPerSec,
  );
  const over = peers.map((s) => `${s.system} ${(ceiling.eventsPerSec! / s.eventsPerSec!).toFixed(2)}×`);
  return [
    '',
    `copy-ceiling is the bound, not a peer: Sluice's own COPY rows for the file, encoded before the spawn, ` +
      `sent over ${CEILING_LANES} connection(s) by a process that does nothing else — the server's rate for ` +
      `this table plus a Node process's start. Its rate over each peer's: ${over.join(', ')} — ` +
      'no client of this design gets further above that peer in this run.',
  ];
}
