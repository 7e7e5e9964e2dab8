import type pg from 'pg';
import type { LoadJob, LoadSystem, ProcessCpu } from './load-system.js';
import { markLoad, otherLoadSince } from './other-load.js';
import { reapedChildrenCpuUs } from './proc-stat.js';
import { type ServerMatch, serverCpuUs } from './server-cpu.js';
import { dropTable, tableFigures, walPosition } from './target-table.js';

export const POSTGRES_PROCESSES: ServerMatch = { user: 'postgres' };
export const REDIS_PROCESSES: ServerMatch = { comm: 'redis-server' };

/** Every figure of one system's run in one round. */
export interface RunFigures {
  system: string;
  round: number;
  /** Position in the round's order, from 0. */
  position: number;
  /** Why the run does not count (a failure, or rows missing), if it does not. */
  failure?: string;
  events: number;
  seconds: number;
  timedFrom: string;
  eventsPerSec: number;
  /** CPU of every client process of the run (every thread, start-up and exit included). */
  clientCpuUs: number;
  clientCpuUsPerEvent: number;
  /** CPU of every local PostgreSQL process over the run, checkpointer, WAL writer and autovacuum included. */
  serverCpuUs?: number;
  serverCpuUsPerEvent?: number;
  /** CPU of the local redis-server over the run, when the system uses Redis. */
  redisCpuUs?: number;
  redisCpuUsPerEvent?: number;
  /** WAL the server wrote over the run (any other client's included). */
  walBytes: number;
  walBytesPerEvent: number;
  rows: number;
  /**
   * The machine's CPU over the run that was neither the clients', PostgreSQL's, Redis's nor this
   * benchmark's own (its sampling), in cores (µs per µs of the run): other work on a shared
   * machine. A figure measured beside other load is slower than the system is.
   */
  otherLoadCores: number;
  /** CPU the hypervisor gave to others while this machine waited, in cores. */
  stealCores: number;
  /** From the start of the timed span to the start of the transaction that wrote the first row. */
  toFirstRowSeconds?: number;
  /** From the start of the timed span to the start of the transaction that wrote the last row. */
  toLastRowSeconds?: number;
  processes: ProcessCpu[];
  notes?: Record<string, unknown>;
}

export interface MeasureOptions {
  /** Also measure redis-server's CPU. */
  redis?: boolean;
}

const delta = (after: number | undefined, before: number | undefined) =>
  after === undefined || before === undefined ? undefined : after - before;

/**
 * Runs a system once under the same accounting as every other: a checkpoint first, so no run pays
 * for the dirty pages of the one before; the client processes' CPU from their reaped totals; the
 * server's from /proc before and after; then the rows in the table, which is dropped.
 */
export async function measureRun(
  system: LoadSystem,
  job: LoadJob,
  position: number,
  admin: pg.Client,
  options: MeasureOptions = {},
): Promise<RunFigures> {
  const checkpoint = await admin.query('CHECKPOINT').then(
    () => undefined,
    (error: Error) => `no CHECKPOINT before the run (${error.message})`,
  );
  const wal0 = await walPosition(admin);
  const redis0 = options.redis ? serverCpuUs(REDIS_PROCESSES) : undefined;
  const server0 = serverCpuUs(POSTGRES_PROCESSES);
  const cpu0 = reapedChildrenCpuUs();
  const load = markLoad();
  let run: Awaited<ReturnType<LoadSystem['run']>>;
  try {
    run = await system.run(job);
  } catch (error) {
    run = {
      seconds: Number.NaN,
      timedFrom: '',
      startedAtMs: Number.NaN,
      failure: `${system.name} failed: ${(error as Error).message}`,
      processes: [],
    };
  }
  const clientCpuUs = reapedChildrenCpuUs() - cpu0;
  const serverCpuUsNow = delta(serverCpuUs(POSTGRES_PROCESSES), server0);
  const redisCpuUs = options.redis ? delta(serverCpuUs(REDIS_PROCESSES), redis0) : undefined;
  const other = otherLoadSince(load, clientCpuUs + (serverCpuUsNow ?? 0) + (redisCpuUs ?? 0));
  const walBytes = (await walPosition(admin)) - wal0;
  const table = await tableFigures(admin, job.table);
  await dropTable(admin, job.table);
  const n = job.events;
  const failure =
    run.failure ??
    (table.rows === n ? undefined : `the table holds ${table.rows} rows of ${n}: rows were lost`);
  return {
    system: system.name,
    round: job.round,
    position,
    ...(failure ? { failure } : {}),
    events: n,
    seconds: run.seconds,
    timedFrom: run.timedFrom,
    eventsPerSec: n / run.seconds,
    clientCpuUs,
    clientCpuUsPerEvent: clientCpuUs / n,
    ...(serverCpuUsNow === undefined
      ? {}
      : { serverCpuUs: serverCpuUsNow, serverCpuUsPerEvent: serverCpuUsNow / n }),
    ...(redisCpuUs === undefined ? {} : { redisCpuUs, redisCpuUsPerEvent: redisCpuUs / n }),
    walBytes,
    walBytesPerEvent: walBytes / n,
    rows: table.rows,
    ...other,
    ...(system.commitsAsItGoes && table.firstWrittenMs !== undefined
      ? { toFirstRowSeconds: (table.firstWrittenMs - run.startedAtMs) / 1000 }
      : {}),
    ...(system.commitsAsItGoes && table.lastWrittenMs !== undefined
      ? { toLastRowSeconds: (table.lastWrittenMs - run.startedAtMs) / 1000 }
      : {}),
    processes: run.processes,
    ...(run.notes || checkpoint ? { notes: { ...run.notes, ...(checkpoint ? { checkpoint } : {}) } } : {}),
  };
}
