import type { BenchReport, LatencySummary } from '../bench-report.js';
import { barChart } from './bar-chart.js';
import { environmentParts } from './environment.js';
import { formatCompact, formatPlain, formatSignificantTrimmed } from './format.js';
import { lineChart } from './line-chart.js';
import { PERCENTILE_COLORS, systemColors } from './palette.js';
import { kneeIndex, sweepBySystem } from './sweep-knee.js';

/** Latency spans wider than this (max ÷ min, two decades) are drawn on a log axis. */
export const LOG_SCALE_SPAN = 100;

const PERCENTILES: readonly { key: keyof LatencySummary; label: string }[] = [
  { key: 'p50', label: 'p50' },
  { key: 'p90', label: 'p90' },
  { key: 'p99', label: 'p99' },
  { key: 'p999', label: 'p99.9' },
  { key: 'max', label: 'max' },
];

function subtitle(report: BenchReport): string {
  return [`scenario ${report.scenario}`, ...environmentParts(report.env, false)].join(' · ');
}

/** Achieved throughput of each system as labelled bars, in the systems' colours. */
export function throughputChart(report: BenchReport): string {
  const colors = systemColors(report);
  return barChart({
    title: 'Throughput by system',
    subtitle: subtitle(report),
    description: `Events acknowledged per second by each system in scenario ${report.scenario}; higher is better.`,
    categories: report.results.map((r) => r.system),
    series: [
      {
        name: 'throughput',
        color: report.results.map((r) => colors.get(r.system) ?? '#000000'),
        values: report.results.map((r) => r.eventsPerSec),
      },
    ],
    xTitle: 'system',
    yTitle: 'throughput (events/s)',
    yScale: 'linear',
    unit: 'events/s',
    formatValue: formatCompact,
    formatTick: formatCompact,
    showLegend: false,
  });
}

/** p50 … max latency per system as grouped bars; log axis when they span more than two decades. */
export function latencyChart(report: BenchReport): string {
  const values = report.results.flatMap((r) => PERCENTILES.map((p) => r.latencyMs[p.key]));
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  const scale =
    positive.length > 0 && Math.max(...positive) / Math.min(...positive) > LOG_SCALE_SPAN ? 'log' : 'linear';
  return barChart({
    title: 'Latency percentiles by system (push → sink acknowledgement)',
    subtitle: subtitle(report),
    description: `p50, p90, p99, p99.9 and maximum latency in milliseconds of each system in scenario ${report.scenario}; lower is better.`,
    categories: report.results.map((r) => r.system),
    series: PERCENTILES.map((p, i) => ({
      name: p.label,
      color: PERCENTILE_COLORS[i] ?? '#000000',
      values: report.results.map((r) => r.latencyMs[p.key]),
    })),
    xTitle: 'system',
    yTitle: `latency (ms, ${scale} scale)`,
    yScale: scale,
    unit: 'ms',
    formatValue: formatSignificantTrimmed,
    formatTick: formatPlain,
    showLegend: true,
  });
}

/**
 * p99 latency against achieved throughput, a line per system through its sweep points in order of
 * offered rate, the knee ringed. Undefined when the report has no sweep.
 */
export function sweepChart(report: BenchReport): string | undefined {
  if (report.sweep === undefined || report.sweep.length === 0) return undefined;
  const colors = systemColors(report);
  const bySystem = sweepBySystem(report.sweep);
  const anyPositive = report.sweep.some((p) => Number.isFinite(p.latencyMs.p99) && p.latencyMs.p99 > 0);
  const scale = anyPositive ? 'log' : 'linear';
  return lineChart({
    title: 'p99 latency against achieved throughput (rate sweep)',
    subtitle: subtitle(report),
    description:
      'Each system was offered a series of rates; every marker is one rate. Where a line turns upward, ' +
      'the system is saturated: more offered load adds latency, not throughput. The dashed ring marks the knee.',
    series: [...bySystem].map(([system, points]) => {
      const knee = kneeIndex(points);
      const kneePoint = knee === undefined ? undefined : points[knee];
      return {
        name: system,
        color: colors.get(system) ?? '#000000',
        points: points.map((p) => ({
          x: p.eventsPerSec,
          y: p.latencyMs.p99,
          label:
            `${system}, offered ${formatCompact(p.targetRate)} events/s (${formatPlain(p.fraction * 100)} % of max): ` +
            `achieved ${formatCompact(p.eventsPerSec)} events/s, p99 ${formatSignificantTrimmed(p.latencyMs.p99)} ms`,
        })),
        ...(kneePoint === undefined
          ? {}
          : { highlight: knee, highlightLabel: `knee ≈ ${formatCompact(kneePoint.eventsPerSec)} events/s` }),
      };
    }),
    xTitle: 'achieved throughput (events/s)',
    yTitle: `p99 latency (ms, ${scale} scale)`,
    yScale: scale,
    formatXTick: formatCompact,
    formatYTick: formatPlain,
  });
}
