import { describe, expect, it } from 'vitest';
import { markdownReport } from '../../../src/harness/report/markdown-report.js';
import { records, section, table } from './markdown.js';
import { result, sampleReport, sweepOf } from './sample-report.js';

const charts = { throughput: 'throughput.svg', latency: 'latency.svg' };

describe('markdown report', () => {
  const md = markdownReport(sampleReport(), charts);

  it('opens with the scenario and where it was measured: Node, CPUs, commit and date', () => {
    const [title, blank, environment] = md.split('\n');
    expect(title).toBe('# Sluice bench: json-transform-null');
    expect(blank).toBe('');
    expect(environment).toBe(
      'Node v20.19.0 · 2 CPUs (AMD EPYC 7B13) · commit bfbbd5a1c0ff · 2025-11-28 21:06 UTC',
    );
  });

  it('lays the configuration out as setting/value pairs, nested settings as dotted keys', () => {
    const { header, rows } = table(md, 'Configuration');
    expect(header.filter((h) => h === 'setting')).toHaveLength(3);
    const pairs = new Map<string, string>();
    for (const row of rows)
      for (let i = 0; i < row.length; i += 2) if (row[i]) pairs.set(row[i]!, row[i + 1]!);
    expect(Object.fromEntries(pairs)).toEqual({
      events: '2,000,000',
      rate: 'max',
      workers: '2',
      'batch.maxEvents': '256',
      'batch.maxWaitMs': '5',
    });
  });

  it('has one results row per system with every figure, formatted for people', () => {
    const rows = records(md, 'Results');
    expect(rows.map((r) => r.system)).toEqual(['engine', 'seed-port', 'piscina-per-event']);
    expect(rows[0]).toEqual({
      system: 'engine',
      workers: '2',
      'events/s': '412,345',
      'p50 ms': '0.800',
      'p90 ms': '1.60',
      'p99 ms': '4.00',
      'p99.9 ms': '9.60',
      'max ms': '32.0',
      'peak RSS MiB': '182',
      'CPU µs per event': '4.25',
      'RSS 1st → 4th quarter MiB': '170 → 172',
      'max queue depth': '65,536',
      lost: '0',
      duplicates: '0',
      'dead-lettered': '0',
      'producer blocked ms': '1,235',
    });
    expect(rows[2]?.['producer blocked ms']).toBe('—');
  });

  it('puts the engine over each baseline: 300 000 against 100 000 events/s is 3.00×', () => {
    const report = sampleReport({
      results: [
        result('engine', 300_000, { latencyMs: { p50: 1, p90: 2, p99: 5, p999: 9, max: 20 } }),
        result('seed-port', 100_000, { latencyMs: { p50: 4, p90: 8, p99: 20, p999: 40, max: 90 } }),
        result('piscina-per-event', 20_000, {
          latencyMs: { p50: 40, p90: 80, p99: 500, p999: 900, max: 2000 },
        }),
      ],
    });
    expect(records(markdownReport(report, charts), 'Ratios')).toEqual([
      { 'engine ÷': 'seed-port', throughput: '3.00×', 'p99 latency': '0.25×' },
      { 'engine ÷': 'piscina-per-event', throughput: '15.0×', 'p99 latency': '0.01×' },
    ]);
  });

  it('with several rounds, gives the median of the engine’s ratios and each round’s', () => {
    const report = sampleReport({
      results: [result('engine', 300_000), result('seed-port', 100_000)],
      engineRatios: [{ system: 'seed-port', byRound: [2.5, 3, 4], median: 3 }],
    });
    const md = markdownReport(report, charts);
    expect(records(md, 'Ratios')).toEqual([
      { 'engine ÷': 'seed-port', 'throughput, median': '3.00×', 'by round': '2.50×, 3.00×, 4.00×' },
    ]);
    expect(section(md, 'Ratios').join(' ')).toContain(
      '3 rounds, the order of the systems rotated each round',
    );
  });

  it('says why there are no ratios when the run has no engine, or nothing to compare it with', () => {
    const noEngine = markdownReport(sampleReport({ results: [result('seed-port', 1)] }), charts);
    expect(section(noEngine, 'Ratios').join(' ')).toContain('no `engine` result');
    const alone = markdownReport(sampleReport({ results: [result('engine', 1)] }), charts);
    expect(section(alone, 'Ratios').join(' ')).toContain('no baseline result');
  });

  it('shows a dash rather than a ratio against a baseline that moved nothing', () => {
    const report = sampleReport({ results: [result('engine', 10), result('stalled', 0)] });
    expect(records(markdownReport(report, charts), 'Ratios')[0]?.throughput).toBe('—');
  });

  it('embeds exactly the charts it is given', () => {
    expect(section(md, 'Charts').filter((l) => l.startsWith('!['))).toEqual([
      '![Throughput by system](throughput.svg)',
      '![Latency percentiles by system](latency.svg)',
    ]);
    expect(md).not.toContain('sweep.svg');
  });

  it('has a sweep table, the knee of each system marked, only when the report has a sweep', () => {
    expect(section(md, 'Rate sweep')).toEqual([]);
    const sweep = [...sweepOf('engine', 412_345, 2), ...sweepOf('seed-port', 137_000, 6)];
    const rows = records(
      markdownReport(sampleReport({ sweep }), { ...charts, sweep: 'sweep.svg' }),
      'Rate sweep',
    );
    expect(rows).toHaveLength(sweep.length);
    expect(rows[0]).toMatchObject({
      system: 'engine',
      'offered, % of max': '10%',
      'offered events/s': '41,235',
      'achieved events/s': '41,235',
    });
    const knees = rows.filter((r) => r.note?.startsWith('knee'));
    expect(knees.map((r) => [r.system, r['offered, % of max'], r.note])).toEqual([
      ['engine', '90%', 'knee ≈ 371 k events/s'],
      ['seed-port', '90%', 'knee ≈ 123 k events/s'],
    ]);
  });

  it('lists profiles as links relative to the report', () => {
    const withProfiles = markdownReport(sampleReport({ profiles: ['cpu/engine 1.cpuprofile'] }), charts);
    expect(section(withProfiles, 'Profiles')).toContain(
      '- [cpu/engine 1.cpuprofile](cpu/engine%201.cpuprofile)',
    );
    expect(md).not.toContain('## Profiles');
  });

  it('keeps the table intact and shows no HTML for a system name with | and <&>', () => {
    const name = 'a|b <i>&';
    const rows = records(markdownReport(sampleReport({ results: [result(name, 5)] }), charts), 'Results');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.system).toBe('a\\|b &lt;i&gt;&amp;');
    expect(rows[0]?.['events/s']).toBe('5');
  });

  it('makes a non-zero lost or duplicate count stand out', () => {
    const rows = records(
      markdownReport(sampleReport({ results: [result('engine', 5, { lost: 1200 })] }), charts),
      'Results',
    );
    expect(rows[0]?.lost).toBe('**1,200**');
    expect(rows[0]?.duplicates).toBe('0');
  });
});
