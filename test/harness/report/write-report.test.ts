import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeReport } from '../../../src/harness/report/write-report.js';
import { sampleReport, sweepOf } from './sample-report.js';
import { parseXml } from './xml.js';

describe('writeReport', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-report-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the folder and writes report.md, report.json and the three charts of a swept run', async () => {
    const out = join(root, 'nested', 'run-1');
    const report = sampleReport({ sweep: sweepOf('engine', 400_000, 2) });
    const written = await writeReport(report, out);
    expect(written.markdown).toBe(join(out, 'report.md'));
    expect(written.json).toBe(join(out, 'report.json'));
    expect(written.charts).toEqual(['throughput.svg', 'latency.svg', 'sweep.svg'].map((f) => join(out, f)));
    expect((await readdir(out)).sort()).toEqual([
      'latency.svg',
      'report.json',
      'report.md',
      'sweep.svg',
      'throughput.svg',
    ]);
    for (const chart of written.charts) expect(parseXml(await readFile(chart, 'utf8')).name).toBe('svg');
  });

  it('writes no sweep.svg for a run without a sweep, and removes one an earlier run left', async () => {
    await writeFile(join(root, 'sweep.svg'), '<svg/>');
    const written = await writeReport(sampleReport(), root);
    expect(written.charts).toEqual([join(root, 'throughput.svg'), join(root, 'latency.svg')]);
    expect(await readdir(root)).not.toContain('sweep.svg');
    expect(await readFile(written.markdown, 'utf8')).not.toContain('sweep.svg');
  });

  it('links the charts from report.md by their names in the same folder', async () => {
    const written = await writeReport(sampleReport({ sweep: sweepOf('engine', 400_000, 2) }), root);
    const md = await readFile(written.markdown, 'utf8');
    for (const chart of ['throughput.svg', 'latency.svg', 'sweep.svg']) expect(md).toContain(`](${chart})`);
  });

  it('writes the report itself as JSON that reads back equal', async () => {
    const report = sampleReport({ profiles: ['engine.cpuprofile'] });
    await mkdir(root, { recursive: true });
    const written = await writeReport(report, root);
    expect(JSON.parse(await readFile(written.json, 'utf8'))).toEqual(report);
  });
});
