import { join } from 'node:path';
import { median } from '../lib/env.js';
import { type BenchContext, pickSystems, type WorkloadResult } from './bench-context.js';
import { BULLMQ_CONCURRENCY, BULLMQ_PROCESSES, EVENTS_PER_JOB } from './bullmq-setup.js';
import { bullmqSystem } from './bullmq-system.js';
import { failureOf, startChild } from './child-run.js';
import { writeEventFile } from './event-file.js';
import { fmt, markdownTable } from './markdown-table.js';
import { POSTGRES_PROCESSES, REDIS_PROCESSES } from './measure-run.js';
import { markLoad, otherLoadSince } from './other-load.js';
import { reapedChildrenCpuUs } from './proc-stat.js';
import { runRounds } from './run-rounds.js';
import { idleServerCpu } from './server-cpu.js';
import { sluiceDriver, sluiceDriverConcurrentSweep } from './sluice-driver-system.js';
import { notRun, type RoleFigures, ratioOf } from './system-summary.js';

const ALONE_SCRIPT = new URL('./transform-alone-script.js', import.meta.url).pathname;
/**
 * SHA-256 rounds of the transform (its SLUICE_BENCH_COST_ROUNDS). Its default, 4, is about 20 µs
 * on `sluice bench`'s 100-byte events and 16 µs on these 260-byte ones here; 6 makes it about 25.
 */
const COST_ROUNDS = '6';

/** One run of transform-alone-script.ts. */
interface AloneRun {
  otherLoadCores?: number;
  events: number;
  /** Decode + transform + serialise. */
  whole: { seconds: number; cpuUs: number };
  /** Decode + serialise. */
  baseline: { seconds: number; cpuUs: number };
}

/**
 * V8's flag Sluice's pipeline sets in its process (workers.concurrentArrayBufferSweeping): the
 * one-thread measurement is taken with V8's defaults, as a user would time a transform, and again
 * with this, as Sluice's process runs it.
 */
const INLINE_SWEEPING = '--no-concurrent-array-buffer-sweeping';

async function transformAlone(
  context: BenchContext,
  file: string,
  nodeFlags: readonly string[] = [],
): Promise<AloneRun> {
  const load = markLoad();
  const cpu = reapedChildrenCpuUs();
  const outcome = await startChild({
    label: 'transform-alone',
    command: process.execPath,
    args: [...nodeFlags, ALONE_SCRIPT, file],
    cwd: context.root,
    timeoutMs: context.flags.timeoutMs,
  }).done;
  const failure = failureOf(outcome, context.flags.timeoutMs);
  if (failure) throw new Error(failure);
  const { otherLoadCores } = otherLoadSince(load, reapedChildrenCpuUs() - cpu);
  return {
    ...(JSON.parse(outcome.stdout.trim().split('\n').pop()!) as AloneRun),
    otherLoadCores,
  };
}

function rolesLine(label: string, roles: RoleFigures): string {
  const workers =
    roles.workerThreads > 0
      ? `, ${roles.workerThreads} worker threads ${fmt(roles.workersUsPerEvent, 1)}`
      : '';
  return (
    `${label}: main ${fmt(roles.mainUsPerEvent, 1)}${workers}, V8 & libuv helpers ${fmt(roles.helpersUsPerEvent, 1)}, ` +
    `unattributed ${fmt(roles.unattributedUsPerEvent, 1)} (total ${fmt(roles.totalUsPerEvent, 1)})`
  );
}

/** Workload 2: a CPU-heavy transform into PostgreSQL, Sluice beside BullMQ and beside one plain thread. */
export async function cpuHeavyWorkload(context: BenchContext): Promise<WorkloadResult> {
  const { flags, env } = context;
  // Every process of the workload inherits it, so each runs the very same transform.
  process.env.SLUICE_BENCH_COST_ROUNDS ??= COST_ROUNDS;
  const costRounds = process.env.SLUICE_BENCH_COST_ROUNDS;
  const defaults = [sluiceDriver, bullmqSystem(context.redisUrl, context.tag)];
  // The variant runs only when named in --systems.
  const systems = pickSystems(
    [...defaults, sluiceDriverConcurrentSweep],
    flags.systems ?? defaults.map((s) => s.name),
  );
  const file = join(context.root, 'events.ndjson');
  const fileBytes = await writeEventFile(file, flags.events);
  const serverIdle = await idleServerCpu(POSTGRES_PROCESSES);
  const redisIdle = await idleServerCpu(REDIS_PROCESSES);
  // The one-thread measurement runs first in every round, so it meets the same machine as the systems.
  const alone: AloneRun[] = [];
  const aloneInline: AloneRun[] = [];
  const { summaries, runs } = await runRounds(
    context,
    systems,
    { file, events: flags.events },
    {
      redis: true,
      beforeRound: async (round) => {
        const run = await transformAlone(context, file);
        alone.push(run);
        aloneInline.push(await transformAlone(context, file, [INLINE_SWEEPING]));
        console.error(
          `round ${round + 1}/${flags.rounds} one thread: ${fmt(run.events / run.whole.seconds)} events/s`,
        );
      },
    },
  );
  const transformUs = median(alone.map((a) => (a.whole.cpuUs - a.baseline.cpuUs) / a.events));
  const wholeUs = median(alone.map((a) => a.whole.cpuUs / a.events));
  const transformInlineUs = median(aloneInline.map((a) => (a.whole.cpuUs - a.baseline.cpuUs) / a.events));
  const aloneRate = median(alone.map((a) => a.events / a.whole.seconds));
  const sluice = summaries.find((s) => s.system === 'sluice' && s.status === 'ok');
  // Sluice's CPU over its timed span alone (the driver's own reading, every thread): what the
  // pipeline costs per event once running, its start-up and shutdown left out.
  const spans = runs
    .filter((r) => r.system === 'sluice' && r.failure === undefined && typeof r.notes?.spanCpuUs === 'number')
    .map((r) => (r.notes!.spanCpuUs as number) / r.events);
  const spanUs = spans.length > 0 ? median(spans) : undefined;
  const rows = summaries.map((s) => {
    if (s.status !== 'ok') return [s.system, s.status, '—', '—', '—', '—', '—', '—', '—', '—', '—'];
    const ratio = ratioOf(sluice, s);
    return [
      s.system,
      fmt(s.eventsPerSec),
      `${fmt(s.seconds, 2)} (${s.timedFrom})`,
      ratio === undefined ? '—' : `${ratio.toFixed(2)}×`,
      fmt(s.clientCpuUsPerEvent, 1),
      fmt((s.clientCpuUsPerEvent ?? Number.NaN) - transformUs, 1),
      fmt(s.serverCpuUsPerEvent, 1),
      fmt(s.redisCpuUsPerEvent, 1),
      fmt(s.toLastRowSeconds, 2),
      fmt(s.otherLoadCores, 2),
      s.eventsPerSecByRound.map((v) => fmt(v / 1000, 1)).join(', '),
    ];
  });
  rows.push([
    'one thread: decode + transform + serialise',
    fmt(aloneRate),
    '—',
    sluice?.eventsPerSec === undefined ? '—' : `${(sluice.eventsPerSec / aloneRate).toFixed(2)}×`,
    fmt(wholeUs, 1),
    fmt(wholeUs - transformUs, 1),
    '—',
    '—',
    '—',
    fmt(median(alone.map((a) => a.otherLoadCores ?? Number.NaN)), 2),
    alone.map((a) => fmt(a.events / a.whole.seconds / 1000, 1)).join(', '),
  ]);
  const roleLines = summaries.flatMap((s) =>
    Object.entries(s.roles ?? {}).map(([label, roles]) => `- ${s.system} ${rolesLine(label, roles)}`),
  );
  const lines = [
    `### cpu-heavy transform → PostgreSQL, ${flags.events.toLocaleString('en-US')} events (${(fileBytes / 1e6).toFixed(1)} MB), idempotent by id`,
    '',
    `Median of ${flags.rounds} round(s), the order rotated each round (the one-thread measurement first in each). ` +
      `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), commit ${env.commit}, ${env.date}. ` +
      `The transform (src/harness/scenarios/transforms/cpu-heavy.ts, ${costRounds} SHA-256 rounds) costs ${fmt(transformUs, 1)} µs/event ` +
      `(decode + transform + serialise ${fmt(wholeUs, 1)}, less decode + serialise, in one thread: transform-alone-script.ts; ` +
      `${fmt(transformInlineUs, 1)} with V8's concurrent ArrayBuffer sweeping off, as Sluice's process runs it). ` +
      `BullMQ: ${BULLMQ_PROCESSES} worker processes × concurrency ${BULLMQ_CONCURRENCY}, ${EVENTS_PER_JOB} events per job. ` +
      `Idle server CPU: PostgreSQL ${fmt(serverIdle)} µs/s, Redis ${fmt(redisIdle)} µs/s.`,
    '',
    markdownTable(
      [
        'system',
        'events/s',
        's (timed span)',
        'Sluice ÷ it',
        'client CPU µs/event',
        'client CPU − transform µs/event',
        'PostgreSQL CPU µs/event',
        'Redis CPU µs/event',
        'to last row s',
        'other load, cores',
        'k events/s by round',
      ],
      rows,
    ),
    ...notRun(summaries),
    ...(spanUs !== undefined && sluice
      ? [
          '',
          `Sluice's client CPU from its first push to the drain alone (every thread; the process's start-up, ` +
            `createPipeline and close left out): ${fmt(spanUs, 1)} µs/event, the transform + ${fmt(spanUs - transformUs, 1)} ` +
            `(the whole process: ${fmt(sluice.clientCpuUsPerEvent, 1)}); beside the transform as Sluice's process runs it ` +
            `(${fmt(transformInlineUs, 1)}), + ${fmt(spanUs - transformInlineUs, 1)}.`,
        ]
      : []),
    ...(roleLines.length > 0 ? ['', 'Client CPU by process and thread role, µs/event:', ...roleLines] : []),
  ];
  return {
    markdown: lines.join('\n'),
    json: {
      workload: 'cpu-heavy',
      events: flags.events,
      fileBytes,
      rounds: flags.rounds,
      bullmq: { processes: BULLMQ_PROCESSES, concurrency: BULLMQ_CONCURRENCY, eventsPerJob: EVENTS_PER_JOB },
      serverIdleCpuUsPerSecond: serverIdle,
      redisIdleCpuUsPerSecond: redisIdle,
      transformAlone: {
        costRounds: Number(costRounds),
        transformUsPerEvent: transformUs,
        wholeUsPerEvent: wholeUs,
        eventsPerSec: aloneRate,
        runs: alone,
        inlineSweeping: {
          nodeFlag: INLINE_SWEEPING,
          transformUsPerEvent: transformInlineUs,
          runs: aloneInline,
        },
      },
      sluiceSpanCpuUsPerEvent: spanUs ?? null,
      systems: summaries,
      ratios: Object.fromEntries(
        summaries.filter((s) => s.system !== 'sluice').map((s) => [s.system, ratioOf(sluice, s) ?? null]),
      ),
      runs,
    },
  };
}
