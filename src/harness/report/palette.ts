import type { BenchReport } from '../bench-report.js';

/**
 * Okabe–Ito colours: distinguishable with the common colour-vision deficiencies and on white. Each
 * system keeps its colour across every chart of a report.
 */
const SYSTEM_COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#000000'] as const;

/** Percentiles light to dark, so the eye reads the bars of a group as one rising series. */
export const PERCENTILE_COLORS = ['#9ecae1', '#6baed6', '#3182bd', '#08519c', '#252525'] as const;

/** The colour of every system of a report, in the order systems first appear (results, then sweep). */
export function systemColors(report: BenchReport): Map<string, string> {
  const colors = new Map<string, string>();
  const systems = [...report.results.map((r) => r.system), ...(report.sweep ?? []).map((p) => p.system)];
  for (const system of systems) {
    if (!colors.has(system))
      colors.set(system, SYSTEM_COLORS[colors.size % SYSTEM_COLORS.length] ?? '#000000');
  }
  return colors;
}
