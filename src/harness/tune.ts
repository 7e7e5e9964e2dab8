import type { LatencySummary } from './bench-report.js';

/** One setting `--tune` tried, and what the engine did with it. */
export interface TuneTrial {
  workers: number;
  batchMaxRecords: number;
  eventsPerSec: number;
  latencyMs: LatencySummary;
  lost: number;
}

/** What `--tune` found: every trial, and the recommended one (undefined: none met the target). */
export interface TuneResult {
  p99TargetMs: number;
  trials: TuneTrial[];
  recommended: TuneTrial | undefined;
  /** One sentence: the recommendation and why, or why there is none. */
  summary: string;
  /** The config lines to use (YAML), when there is a recommendation. */
  configLines?: string;
}

/** Whether `trial` is the recommended setting (by its values: a report read back from JSON has copies). */
export function isRecommended(trial: TuneTrial, recommended: TuneTrial | undefined): boolean {
  return (
    recommended !== undefined &&
    trial.workers === recommended.workers &&
    trial.batchMaxRecords === recommended.batchMaxRecords
  );
}

/** The batch sizes tried: the configured one, a tenth of it and ten times it, within the schema's range. */
export function tuneBatchSizes(configured: number): number[] {
  const sizes = [Math.max(1, Math.round(configured / 10)), configured, Math.min(1_000_000, configured * 10)];
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** The worker counts tried: 1 … the CPUs. */
export function tuneWorkerCounts(cpus: number): number[] {
  return Array.from({ length: Math.max(1, cpus) }, (_, k) => k + 1);
}

/**
 * The trial with the best throughput whose p99 stays under the target and that lost nothing; ties
 * (within 2 %) go to fewer workers, then to the smaller batch — the cheaper setting.
 */
export function recommend(trials: readonly TuneTrial[], p99TargetMs: number): TuneResult {
  const eligible = trials.filter((t) => t.latencyMs.p99 <= p99TargetMs && t.lost === 0);
  const best = eligible.reduce<TuneTrial | undefined>(
    (a, t) => (!a || t.eventsPerSec > a.eventsPerSec ? t : a),
    undefined,
  );
  let recommended: TuneTrial | undefined;
  if (best) {
    recommended = eligible
      .filter((t) => t.eventsPerSec >= best.eventsPerSec * 0.98)
      .sort((a, b) => a.workers - b.workers || a.batchMaxRecords - b.batchMaxRecords)[0];
  }
  if (!recommended) {
    const lowest = [...trials].sort((a, b) => a.latencyMs.p99 - b.latencyMs.p99)[0];
    return {
      p99TargetMs,
      trials: [...trials],
      recommended: undefined,
      summary:
        `No setting kept p99 under ${p99TargetMs} ms` +
        (lowest
          ? ` (the lowest p99 was ${lowest.latencyMs.p99.toFixed(1)} ms with ${lowest.workers} workers, batches of ${lowest.batchMaxRecords}); ` +
            'offer a lower --rate, or raise --p99-target-ms.'
          : '.'),
    };
  }
  return {
    p99TargetMs,
    trials: [...trials],
    recommended,
    summary:
      `Recommended: ${recommended.workers} worker(s), batches of up to ${recommended.batchMaxRecords} records — ` +
      `${Math.round(recommended.eventsPerSec).toLocaleString('en-US')} events/s with p99 ` +
      `${recommended.latencyMs.p99.toFixed(1)} ms (target ${p99TargetMs} ms), the best of ${trials.length} settings tried.`,
    configLines:
      `workers:\n  min: ${recommended.workers}\n  max: ${recommended.workers}\n` +
      `batch:\n  maxRecords: ${recommended.batchMaxRecords}\n`,
  };
}
