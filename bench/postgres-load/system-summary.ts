import { median } from '../lib/env.js';
import type { LoadSystem } from './load-system.js';
import type { RunFigures } from './measure-run.js';

/** CPU of one process by thread role, µs per event (medians over the rounds). */
export interface RoleFigures {
  mainUsPerEvent: number;
  workersUsPerEvent: number;
  helpersUsPerEvent: number;
  unattributedUsPerEvent: number;
  totalUsPerEvent: number;
  workerThreads: number;
}

/** A system's medians over its rounds; a failed system gets a reason, not figures. */
export interface SystemSummary {
  system: string;
  describe: string;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  rounds: number;
  timedFrom?: string;
  eventsPerSec?: number;
  seconds?: number;
  clientCpuUsPerEvent?: number;
  serverCpuUsPerEvent?: number;
  redisCpuUsPerEvent?: number;
  walBytesPerEvent?: number;
  toFirstRowSeconds?: number;
  toLastRowSeconds?: number;
  /** Other work on the machine during the runs, cores (median; see RunFigures.otherLoadCores). */
  otherLoadCores?: number;
  /** Every round's events/s, in round order. */
  eventsPerSecByRound: number[];
  /** Per Node process of the system (by label), its CPU by thread role. */
  roles?: Record<string, RoleFigures>;
}

function medianOf(runs: RunFigures[], pick: (run: RunFigures) => number | undefined): number | undefined {
  const values = runs.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length === runs.length && values.length > 0 ? median(values) : undefined;
}

function rolesOf(runs: RunFigures[]): Record<string, RoleFigures> | undefined {
  const labels = new Set(runs.flatMap((run) => run.processes.filter((p) => p.roles).map((p) => p.label)));
  if (labels.size === 0) return undefined;
  const result: Record<string, RoleFigures> = {};
  for (const label of labels) {
    const per = (pick: (r: NonNullable<RunFigures['processes'][number]['roles']>) => number) =>
      medianOf(runs, (run) => {
        const roles = run.processes.find((p) => p.label === label)?.roles;
        return roles ? pick(roles) / run.events : undefined;
      }) ?? Number.NaN;
    result[label] = {
      mainUsPerEvent: per((r) => r.mainUs),
      workersUsPerEvent: per((r) => r.workersUs),
      helpersUsPerEvent: per((r) => r.helpersUs),
      unattributedUsPerEvent: per((r) => r.unattributedUs),
      totalUsPerEvent: per((r) => r.totalUs),
      workerThreads: Math.max(
        ...runs.map((run) => run.processes.find((p) => p.label === label)?.roles?.workerThreads ?? 0),
      ),
    };
  }
  return result;
}

export function skipped(system: Pick<LoadSystem, 'name' | 'describe'>, reason: string): SystemSummary {
  return {
    system: system.name,
    describe: system.describe,
    status: 'skipped',
    reason,
    rounds: 0,
    eventsPerSecByRound: [],
  };
}

export function summarize(system: Pick<LoadSystem, 'name' | 'describe'>, runs: RunFigures[]): SystemSummary {
  const base = {
    system: system.name,
    describe: system.describe,
    rounds: runs.length,
    eventsPerSecByRound: runs.map((run) => run.eventsPerSec),
  };
  const failed = runs.find((run) => run.failure !== undefined);
  if (failed || runs.length === 0) {
    return { ...base, status: 'failed', reason: failed?.failure ?? 'no round ran' };
  }
  const roles = rolesOf(runs);
  const m = (pick: (run: RunFigures) => number | undefined) => medianOf(runs, pick);
  return {
    ...base,
    status: 'ok',
    timedFrom: runs[0]!.timedFrom,
    eventsPerSec: m((r) => r.eventsPerSec),
    seconds: m((r) => r.seconds),
    clientCpuUsPerEvent: m((r) => r.clientCpuUsPerEvent),
    serverCpuUsPerEvent: m((r) => r.serverCpuUsPerEvent),
    redisCpuUsPerEvent: m((r) => r.redisCpuUsPerEvent),
    walBytesPerEvent: m((r) => r.walBytesPerEvent),
    toFirstRowSeconds: m((r) => r.toFirstRowSeconds),
    toLastRowSeconds: m((r) => r.toLastRowSeconds),
    otherLoadCores: m((r) => r.otherLoadCores),
    ...(roles ? { roles } : {}),
  };
}

/** Sluice's events/s over a peer's, from the same invocation's medians. */
export function ratioOf(sluice: SystemSummary | undefined, peer: SystemSummary): number | undefined {
  if (sluice?.eventsPerSec === undefined || peer.eventsPerSec === undefined) return undefined;
  return sluice.eventsPerSec / peer.eventsPerSec;
}

/** The line under a table: what failed or was skipped, and why. */
export function notRun(summaries: SystemSummary[]): string[] {
  return summaries.filter((s) => s.status !== 'ok').map((s) => `- **${s.system} ${s.status}**: ${s.reason}`);
}
