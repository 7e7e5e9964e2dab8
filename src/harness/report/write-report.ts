import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchReport } from '../bench-report.js';
import { type ChartFiles, markdownReport } from './markdown-report.js';
import { latencyChart, sweepChart, throughputChart } from './svg-chart.js';

export const REPORT_FILES = {
  markdown: 'report.md',
  json: 'report.json',
  throughput: 'throughput.svg',
  latency: 'latency.svg',
  sweep: 'sweep.svg',
} as const;

export interface WrittenReport {
  /** Path of `report.md`. */
  markdown: string;
  /** Paths of the SVG charts written, throughput first. */
  charts: string[];
  /** Path of `report.json`, the report itself. */
  json: string;
}

/**
 * Writes the Markdown report, its SVG charts and the report as JSON into `outDir` (created if
 * missing). A report without a sweep gets no `sweep.svg`; one left by an earlier run is removed so
 * the folder never shows a chart the report does not describe.
 */
export async function writeReport(report: BenchReport, outDir: string): Promise<WrittenReport> {
  await mkdir(outDir, { recursive: true });
  const sweep = sweepChart(report);
  const charts: [keyof ChartFiles, string][] = [
    ['throughput', throughputChart(report)],
    ['latency', latencyChart(report)],
  ];
  if (sweep === undefined) await rm(join(outDir, REPORT_FILES.sweep), { force: true });
  else charts.push(['sweep', sweep]);

  const chartFiles: ChartFiles = {};
  const chartPaths: string[] = [];
  for (const [kind, svg] of charts) {
    const path = join(outDir, REPORT_FILES[kind]);
    await writeFile(path, svg);
    chartFiles[kind] = REPORT_FILES[kind];
    chartPaths.push(path);
  }
  const markdown = join(outDir, REPORT_FILES.markdown);
  const json = join(outDir, REPORT_FILES.json);
  await writeFile(markdown, markdownReport(report, chartFiles));
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  return { markdown, charts: chartPaths, json };
}
