import { join } from 'node:path';
import { DEFAULT_WORKER_OPTIONS } from '../../src/config/pipeline-options.js';
import { type BenchContext, pickSystems, type WorkloadResult } from './bench-context.js';
import { CEILING_LANES, copyCeiling } from './copy-ceiling-system.js';
import { writeEventFile } from './event-file.js';
import type { LoadSystem } from './load-system.js';
import { fmt, markdownTable } from './markdown-table.js';
import { POSTGRES_PROCESSES, type RunFigures } from './measure-run.js';
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

/** The start-up runs' file: one line, so that what they time does not depend on the lines. */
const STARTUP_EVENTS = 1;

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
  const startup = await startupRounds(context, systems, summaries);
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
    ...(startup ? startupLines(startup, summaries, flags.events) : []),
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
      ...(startup ? { startup: startupJson(startup, summaries, flags.events) } : {}),
    },
  };
}

interface Startup {
  rounds: number;
  summaries: SystemSummary[];
  runs: RunFigures[];
}

/**
 * Every system that loaded the file, `--startup-rounds` times more on a one-line file (each round in
 * a rotated order, as the main rounds): what a run costs whatever its length — the process's start,
 * connecting, creating the table, the first write, the exit. Set against the main runs, it splits a
 * system's time into that and the rate it loads lines at past it.
 */
async function startupRounds(
  context: BenchContext,
  systems: readonly LoadSystem[],
  summaries: readonly SystemSummary[],
): Promise<Startup | undefined> {
  const rounds = context.flags.startupRounds;
  const ran = systems.filter((system) => summaries.find((s) => s.system === system.name)?.status === 'ok');
  if (rounds === 0 || ran.length === 0) return undefined;
  const file = join(context.root, 'one-line.ndjson');
  await writeEventFile(file, STARTUP_EVENTS);
  const result = await runRounds(
    { ...context, flags: { ...context.flags, rounds } },
    ran,
    { file, events: STARTUP_EVENTS },
    { label: 'one-line' },
  );
  return { rounds, ...result };
}

/**
 * A system's rate past its start-up: the file's lines but one over its time less the one-line run's
 * (medians of each); undefined when either failed or the difference is not positive.
 */
function pastStartup(
  main: SystemSummary | undefined,
  oneLine: SystemSummary | undefined,
  events: number,
): number | undefined {
  if (main?.status !== 'ok' || oneLine?.status !== 'ok') return undefined;
  if (main.seconds === undefined || oneLine.seconds === undefined) return undefined;
  const seconds = main.seconds - oneLine.seconds;
  return seconds > 0 ? (events - STARTUP_EVENTS) / seconds : undefined;
}

function startupFigures(startup: Startup, summaries: readonly SystemSummary[], events: number) {
  const past = new Map(
    startup.summaries.map((s) => [
      s.system,
      pastStartup(
        summaries.find((m) => m.system === s.system),
        s,
        events,
      ),
    ]),
  );
  const sluicePast = past.get('sluice');
  return startup.summaries.map((s) => {
    const rate = past.get(s.system);
    return {
      summary: s,
      eventsPerSecPastStartup: rate,
      sluiceRatioPastStartup: sluicePast !== undefined && rate !== undefined ? sluicePast / rate : undefined,
    };
  });
}

/** The start-up table: each system's one-line run, and its rate past it beside Sluice's. */
function startupLines(startup: Startup, summaries: readonly SystemSummary[], events: number): string[] {
  const figures = startupFigures(startup, summaries, events);
  const rows = figures.map(({ summary: s, eventsPerSecPastStartup, sluiceRatioPastStartup }) =>
    s.status !== 'ok'
      ? [s.system, s.status, '—', '—', '—']
      : [
          s.system,
          fmt(s.seconds, 2),
          // One event: its µs/event are the run's µs.
          fmt(s.clientCpuUsPerEvent === undefined ? undefined : s.clientCpuUsPerEvent / 1000),
          fmt(eventsPerSecPastStartup),
          sluiceRatioPastStartup === undefined ? '—' : `${sluiceRatioPastStartup.toFixed(2)}×`,
        ],
  );
  const roles = startup.summaries.find((s) => s.system === 'sluice' && s.status === 'ok')?.roles?.sluice;
  const ms = (us: number) => fmt(us / 1000);
  return [
    '',
    `What does not depend on the lines: every system again on a one-line file, ${startup.rounds} round(s), medians. ` +
      `Past that, each system's rate is the file's lines over its time less its one-line time.`,
    '',
    markdownTable(
      [
        'system',
        '1 line: s (spawn → exit)',
        '1 line: client CPU ms',
        'events/s past that',
        'Sluice ÷ it, past that',
      ],
      rows,
    ),
    ...(roles
      ? [
          '',
          `Sluice's one-line run by thread, CPU ms: main ${ms(roles.mainUsPerEvent)}, ` +
            `${roles.workerThreads} worker thread(s) ${ms(roles.workersUsPerEvent)}, ` +
            `V8 & libuv helpers ${ms(roles.helpersUsPerEvent)} (total ${ms(roles.totalUsPerEvent)}).`,
        ]
      : []),
    ...notRun(startup.summaries),
  ];
}

function startupJson(startup: Startup, summaries: readonly SystemSummary[], events: number) {
  const figures = startupFigures(startup, summaries, events);
  return {
    events: STARTUP_EVENTS,
    rounds: startup.rounds,
    systems: startup.summaries,
    eventsPerSecPastStartup: Object.fromEntries(
      figures.map((f) => [f.summary.system, f.eventsPerSecPastStartup ?? null]),
    ),
    ratiosPastStartup: Object.fromEntries(
      figures
        .filter((f) => f.summary.system !== 'sluice')
        .map((f) => [f.summary.system, f.sluiceRatioPastStartup ?? null]),
    ),
    runs: startup.runs,
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
