import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, tableFor } from './bench-context.js';
import type { LoadSystem } from './load-system.js';
import { fmt } from './markdown-table.js';
import { type MeasureOptions, measureRun, type RunFigures } from './measure-run.js';
import { roundOrder } from './round-order.js';
import { type SystemSummary, skipped, summarize } from './system-summary.js';

/**
 * Runs every available system `rounds` times, each round in a rotated order; `beforeRound` runs
 * first in each round (a measurement that belongs to no system).
 */
export async function runRounds(
  context: BenchContext,
  systems: readonly LoadSystem[],
  job: { file: string; events: number },
  options: MeasureOptions & {
    beforeRound?: (round: number) => Promise<void>;
    /** Names these rounds in the progress lines (the one-line rounds after the main ones). */
    label?: string;
  } = {},
): Promise<{ summaries: SystemSummary[]; runs: RunFigures[] }> {
  const { flags } = context;
  const ready: LoadSystem[] = [];
  const summaries = new Map<string, SystemSummary>();
  for (const system of systems) {
    const reason = await system.unavailable?.();
    if (reason) {
      console.error(`${system.name}: skipped — ${reason}`);
      summaries.set(system.name, skipped(system, reason));
    } else ready.push(system);
  }
  const runs: RunFigures[] = [];
  for (let round = 0; round < flags.rounds; round++) {
    await options.beforeRound?.(round);
    for (const [position, system] of roundOrder(ready, round).entries()) {
      const workDir = mkdtempSync(join(context.root, `${system.name}-`));
      try {
        const figures = await measureRun(
          system,
          {
            ...job,
            table: tableFor(context, system.name, round),
            databaseUrl: context.databaseUrl,
            timeoutMs: flags.timeoutMs,
            workDir,
            round,
          },
          position,
          context.admin,
          options,
        );
        runs.push(figures);
        console.error(
          `${options.label ? `${options.label} ` : ''}round ${round + 1}/${flags.rounds} ${system.name}: ` +
            (figures.failure ?? `${fmt(figures.eventsPerSec)} events/s, ${figures.seconds.toFixed(2)} s`),
        );
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    }
  }
  for (const system of ready) {
    summaries.set(
      system.name,
      summarize(
        system,
        runs.filter((run) => run.system === system.name),
      ),
    );
  }
  return { summaries: systems.map((s) => summaries.get(s.name)!), runs };
}
