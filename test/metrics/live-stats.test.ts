import { describe, expect, it } from 'vitest';
import { RecentLatency } from '../../src/metrics/live-stats.js';
import {
  BatchTally,
  H_LATENCY,
  interpolatedQuantile,
  MetricsBlock,
} from '../../src/metrics/metrics-block.js';

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

  it('reports the latency of what was acknowledged since the previous reading, not since start', () => {
    const block = new MetricsBlock();
    const recent = new RecentLatency(block);
    observe(block, Array(1000).fill(4)); // a bad spell: 4 s
    expect(recent.read().p99Ms).toBeGreaterThan(2500);
    observe(block, Array(1000).fill(0.0008)); // recovered: under a millisecond
    const now = recent.read();
    expect(now.p50Ms).toBeLessThanOrEqual(1);
    expect(now.p99Ms).toBeLessThanOrEqual(1);
    // Nothing new acknowledged: the last figures stand.
    expect(recent.read()).toEqual(now);
  });
});
