import type pg from 'pg';
import type { BenchEnv } from '../lib/env.js';
import type { LoadFlags } from './load-flags.js';

/** What every workload runs with. */
export interface BenchContext {
  flags: LoadFlags;
  env: BenchEnv;
  databaseUrl: string;
  redisUrl: string;
  /** A connection of the benchmark's own: checkpoints, WAL positions, row counts, drops. */
  admin: pg.Client;
  /** The run's temporary directory, removed at the end. */
  root: string;
  /** Every table a run may have created: dropped at the end whatever happened. */
  tables: string[];
  /** Distinguishes this invocation's tables and queues from any other's. */
  tag: string;
}

/** What a workload hands back: the Markdown for stdout and everything for --json. */
export interface WorkloadResult {
  markdown: string;
  json: Record<string, unknown>;
}

/** The table of one system in one round. */
export function tableFor(context: BenchContext, system: string, round: number): string {
  const table = `pgload_${context.tag}_${system.replace(/[^a-z0-9]/gi, '_')}_${round}`;
  context.tables.push(table);
  return table;
}

/** The systems named by --systems (all when absent), in the workload's order; unknown names are an error. */
export function pickSystems<T extends { name: string }>(all: readonly T[], names: string[] | undefined): T[] {
  if (!names) return [...all];
  for (const name of names) {
    if (!all.some((s) => s.name === name))
      throw new Error(
        `--systems: unknown system ${JSON.stringify(name)}; this workload has ${all.map((s) => s.name).join(', ')}`,
      );
  }
  return all.filter((s) => names.includes(s.name));
}
