import { describe, expect, it } from 'vitest';
import { EVENT_LOOP_DELAY_BUCKETS, EventLoopDelayHistogram } from '../../src/metrics/event-loop-delay.js';
import {
  BatchTally,
  H_LATENCY,
  interpolatedQuantile,
  M_BUSY_NS,
  MetricsBlock,
} from '../../src/metrics/metrics-block.js';
import { RecentWindow } from '../../src/metrics/recent-window.js';

function observe(block: MetricsBlock, seconds: number[]): void {
  const tally = new BatchTally();
  for (const s of seconds) tally.observeLatencySeconds(s);
  block.observe(H_LATENCY, tally.latency, tally.latencySum, tally.latencyCount);
}

describe('live latency figures', () => {
  it('interpolates a quantile inside its bucket, as Prometheus does', () => {
    // 10 observations in (0.001, 0.0025]: the median sits halfway through that bucket.
    const counts = [0, 0, 10, 0];
    expect(interpolatedQuantile([0.0005, 0.001, 0.0025], counts, 0.5)).toBeCloseTo(0.00175, 6);
    expect(interpolatedQuantile([0.0005, 0.001, 0.0025], [0, 0, 0, 0], 0.5)).toBeNaN();
  });

  it('reports the latency of what was acknowledged in the last window, not since start', () => {
    const block = new MetricsBlock();
    let now = 0;
    const recent = new RecentWindow(block, () => 1, { windowMs: 5000, now: () => now });
    observe(block, Array(1000).fill(4)); // a bad spell: 4 s
    now = 1000;
    recent.sample();
    expect(recent.read().latencyP99Ms).toBeGreaterThan(2500);
    // Recovered: under a millisecond. Within the window the bad spell still counts…
    for (let s = 2; s <= 5; s++) {
      observe(block, Array(1000).fill(0.0008));
      now = s * 1000;
      recent.sample();
    }
    expect(recent.read().latencyP99Ms).toBeGreaterThan(2500);
    // …and once it is older than the window, it no longer does.
    observe(block, Array(1000).fill(0.0008));
    now = 6000;
    recent.sample();
    const figures = recent.read();
    expect(figures.latencyP50Ms).toBeLessThanOrEqual(1);
    expect(figures.latencyP99Ms).toBeLessThanOrEqual(1);
    // Nothing acknowledged for a whole window: the last figures stand.
    now = 12_000;
    recent.sample();
    expect(recent.read()).toEqual(figures);
  });

  it('gives every reader the same figures, however many read and however often', () => {
    const block = new MetricsBlock();
    let now = 0;
    const recent = new RecentWindow(block, () => 2, { windowMs: 5000, now: () => now });
    const readings: number[] = [];
    for (let s = 1; s <= 10; s++) {
      block.add(M_BUSY_NS, 1e9); // one worker-second per second, of two workers: 50 %
      now = s * 1000;
      recent.sample();
      // A scraper, the dashboard and sluice top each read, a different number of times.
      for (let reader = 0; reader < s % 4; reader++) readings.push(recent.read().workerUtilization);
      expect(recent.read().workerUtilization).toBeCloseTo(0.5, 9);
    }
    expect(new Set(readings)).toEqual(new Set([0.5]));
  });

  it('measures utilisation over the window only: a busy spell ends five samples later', () => {
    const block = new MetricsBlock();
    let now = 0;
    const recent = new RecentWindow(block, () => 1, { windowMs: 5000, now: () => now });
    const series: number[] = [];
    for (let s = 1; s <= 12; s++) {
      if (s <= 3) block.add(M_BUSY_NS, 1e9); // busy for the first three seconds, then idle
      now = s * 1000;
      recent.sample();
      series.push(Math.round(recent.read().workerUtilization * 100));
    }
    expect(series).toEqual([100, 100, 100, 75, 60, 40, 20, 0, 0, 0, 0, 0]);
  });
});

describe('event-loop delay histogram', () => {
  it('counts every observation in its bucket, cumulatively, with sum and count', () => {
    const h = new EventLoopDelayHistogram();
    const values = [0, 0.0005, 0.001, 0.002, 0.03, 0.2, 3];
    for (const v of values) h.observe(v);
    const { cumulative, sum, count } = h.snapshot();
    expect(count).toBe(values.length);
    expect(sum).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      12,
    );
    expect(cumulative).toHaveLength(EVENT_LOOP_DELAY_BUCKETS.length + 1);
    // Each cumulative count is the number of values at or under its bound; +Inf holds them all.
    EVENT_LOOP_DELAY_BUCKETS.forEach((le, i) => {
      expect(cumulative[i]).toBe(values.filter((v) => v <= le).length);
    });
    expect(cumulative.at(-1)).toBe(values.length);
  });

  it('sees a blocked event loop as one late timer', async () => {
    const h = new EventLoopDelayHistogram(5).start();
    await new Promise((r) => setTimeout(r, 30));
    const blockedUntil = performance.now() + 120;
    while (performance.now() < blockedUntil); // block the loop for 120 ms
    await new Promise((r) => setTimeout(r, 30));
    h.stop();
    const { cumulative } = h.snapshot();
    const at100ms = cumulative[EVENT_LOOP_DELAY_BUCKETS.indexOf(0.1)]!;
    // At least one observation beyond 100 ms: the timer that waited out the block.
    expect(cumulative.at(-1)! - at100ms).toBeGreaterThanOrEqual(1);
  });
});
