import { describe, expect, it } from 'vitest';
import { latencyChart, sweepChart, throughputChart } from '../../../src/harness/report/svg-chart.js';
import { result, sampleReport, sweepOf } from './sample-report.js';
import { attr, byClass, findAll, parseXml, visibleText, type XmlElement } from './xml.js';

function chart(svg: string): XmlElement {
  return parseXml(svg);
}

function yTicks(root: XmlElement): number[] {
  return byClass(root, 'y-tick').map((t) => Number(attr(t, 'data-value')));
}

function isOneTwoFiveTimesTenToTheN(v: number): boolean {
  const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6);
}

const withSweep = sampleReport({
  sweep: [
    ...sweepOf('engine', 412_345, 2),
    ...sweepOf('seed-port', 137_000, 6),
    ...sweepOf('piscina-per-event', 21_500, 40),
  ],
});

describe.each([
  ['throughput', throughputChart(sampleReport())],
  ['latency', latencyChart(sampleReport())],
  ['sweep', sweepChart(withSweep) ?? ''],
])('the %s chart', (_, svg) => {
  it('is a well-formed standalone SVG with namespace, size and a matching viewBox', () => {
    const root = chart(svg);
    expect(root.name).toBe('svg');
    expect(attr(root, 'xmlns')).toBe('http://www.w3.org/2000/svg');
    const [w, h] = [Number(attr(root, 'width')), Number(attr(root, 'height'))];
    expect(w).toBeGreaterThan(300);
    expect(h).toBeGreaterThan(200);
    expect(attr(root, 'viewBox')).toBe(`0 0 ${w} ${h}`);
  });

  it('has a title and a subtitle naming the scenario, Node, CPUs and commit', () => {
    const root = chart(svg);
    expect(byClass(root, 'chart-title')).toHaveLength(1);
    const subtitle = visibleText(byClass(root, 'chart-subtitle')[0]!);
    for (const part of ['json-transform-null', 'Node v20.19.0', '2 CPUs', 'commit bfbbd5a1c0ff']) {
      expect(subtitle).toContain(part);
    }
  });
});

describe('throughput chart', () => {
  const root = chart(throughputChart(sampleReport()));

  it('labels the y axis in events/s and the x axis as systems', () => {
    expect(visibleText(byClass(root, 'y-axis-title')[0]!)).toContain('events/s');
    expect(visibleText(byClass(root, 'x-axis-title')[0]!)).toBe('system');
  });

  it('draws one bar per system, under its name, labelled with its value', () => {
    const groups = byClass(root, 'bar-group');
    expect(groups.map((g) => attr(g, 'data-category'))).toEqual(['engine', 'seed-port', 'piscina-per-event']);
    for (const g of groups) expect(byClass(g, 'bar')).toHaveLength(1);
    expect(groups.map((g) => visibleText(byClass(g, 'bar-label')[0]!))).toEqual(['412 k', '137 k', '21.5 k']);
    expect(groups.map((g) => visibleText(byClass(g, 'category-label')[0]!))).toEqual([
      'engine',
      'seed-port',
      'piscina-per-event',
    ]);
  });

  it('makes bar heights proportional to throughput', () => {
    const [engine, seed] = byClass(root, 'bar').map((b) => Number(attr(b, 'height')));
    expect(engine! / seed!).toBeCloseTo(412_345 / 137_000, 1);
  });

  it('ticks the y axis from zero in equal 1-2-5 steps up to at least the fastest system', () => {
    const ticks = yTicks(root);
    const step = ticks[1]! - ticks[0]!;
    expect(ticks[0]).toBe(0);
    expect(isOneTwoFiveTimesTenToTheN(step)).toBe(true);
    ticks.forEach((t, i) => {
      expect(t).toBeCloseTo(i * step, 6);
    });
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(412_345);
    expect(ticks[ticks.length - 2]).toBeLessThan(412_345);
  });

  it('escapes a system name with <&> and still shows it as written', () => {
    const name = '<sys & "x">';
    const svg = throughputChart(sampleReport({ scenario: 'a&b', results: [result(name, 1000)] }));
    expect(svg).not.toContain(name);
    const escapedRoot = chart(svg);
    const group = byClass(escapedRoot, 'bar-group')[0]!;
    expect(attr(group, 'data-category')).toBe(name);
    expect(visibleText(byClass(group, 'category-label')[0]!)).toBe(name);
    expect(visibleText(byClass(escapedRoot, 'chart-subtitle')[0]!)).toContain('scenario a&b');
  });

  it('wraps long system names only when whole ones would not fit', () => {
    const many = [
      'engine',
      'seed-port',
      'piscina-per-event',
      'worker-threads-pool-with-long-name',
      'a',
      'b',
      'c',
    ];
    const wide = chart(throughputChart(sampleReport({ results: many.map((s) => result(s, 1000)) })));
    const lines = (e: XmlElement) => findAll(e, (x) => x.name === 'tspan').length;
    const labels = byClass(wide, 'category-label');
    expect(lines(labels[3]!)).toBeGreaterThan(1);
    expect(lines(labels[0]!)).toBe(1);
    expect(lines(byClass(root, 'category-label')[2]!)).toBe(1);
  });

  it('renders an empty report as axes with a note instead of failing', () => {
    const empty = chart(throughputChart(sampleReport({ results: [] })));
    expect(byClass(empty, 'bar')).toHaveLength(0);
    expect(findAll(empty, (e) => e.name === 'text').map(visibleText)).toContain('no results');
  });
});

describe('latency chart', () => {
  const root = chart(latencyChart(sampleReport()));

  it('draws a bar for every percentile of every system, with a legend naming the percentiles', () => {
    for (const g of byClass(root, 'bar-group')) {
      expect(byClass(g, 'bar').map((b) => attr(b, 'data-series'))).toEqual([
        'p50',
        'p90',
        'p99',
        'p99.9',
        'max',
      ]);
    }
    expect(byClass(root, 'legend-item').map(visibleText)).toEqual(['p50', 'p90', 'p99', 'p99.9', 'max']);
  });

  it('uses a log axis, and says so, when latency spans more than two decades', () => {
    // Sample latencies run from 0.8 ms (engine p50) to 14 400 ms (piscina max).
    expect(visibleText(byClass(root, 'y-axis-title')[0]!)).toBe('latency (ms, log scale)');
    const ticks = yTicks(root);
    expect(ticks.every(isOneTwoFiveTimesTenToTheN)).toBe(true);
    expect(ticks[0]).toBeLessThanOrEqual(0.8);
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(14_400);
  });

  it('stays linear, and says so, when latency spans less than two decades', () => {
    const narrow = chart(
      latencyChart(sampleReport({ results: [result('engine', 1), result('seed-port', 1)] })),
    );
    expect(visibleText(byClass(narrow, 'y-axis-title')[0]!)).toBe('latency (ms, linear scale)');
    const ticks = yTicks(narrow);
    expect(ticks[0]).toBe(0);
    expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(60);
  });

  it('labels each bar with its latency to three significant digits', () => {
    const engine = byClass(root, 'bar-group')[0]!;
    expect(byClass(engine, 'bar-label').map(visibleText)).toEqual(['0.8', '1.6', '4', '9.6', '32']);
  });
});

describe('sweep chart', () => {
  const root = chart(sweepChart(withSweep) ?? '');

  it('is not drawn for a report without a sweep', () => {
    expect(sweepChart(sampleReport())).toBeUndefined();
    expect(sweepChart(sampleReport({ sweep: [] }))).toBeUndefined();
  });

  it('draws one line per system with one marker per sweep point', () => {
    const series = byClass(root, 'series');
    expect(series.map((s) => attr(s, 'data-series'))).toEqual(['engine', 'seed-port', 'piscina-per-event']);
    for (const s of series) {
      expect(byClass(s, 'line')).toHaveLength(1);
      expect(byClass(s, 'marker')).toHaveLength(8);
    }
  });

  it('plots p99 in ms on a log axis against achieved throughput in events/s', () => {
    expect(visibleText(byClass(root, 'y-axis-title')[0]!)).toBe('p99 latency (ms, log scale)');
    expect(visibleText(byClass(root, 'x-axis-title')[0]!)).toBe('achieved throughput (events/s)');
    const xTicks = byClass(root, 'x-tick').map((t) => Number(attr(t, 'data-value')));
    const maxAchieved = Math.max(...(withSweep.sweep ?? []).map((p) => p.eventsPerSec));
    expect(xTicks[xTicks.length - 1]).toBeGreaterThanOrEqual(maxAchieved);
  });

  it('rings the knee of each system and names its throughput in the legend', () => {
    expect(byClass(root, 'highlight')).toHaveLength(3);
    expect(byClass(root, 'legend-item').map(visibleText)).toEqual([
      'engine — knee ≈ 371 k events/s',
      'seed-port — knee ≈ 123 k events/s',
      'piscina-per-event — knee ≈ 19.4 k events/s',
    ]);
  });

  it('gives each system the same colour as in the throughput chart', () => {
    const bars = byClass(chart(throughputChart(withSweep)), 'bar').map((b) => attr(b, 'fill'));
    const lines = byClass(root, 'line').map((l) => attr(l, 'stroke'));
    expect(lines).toEqual(bars);
  });
});
