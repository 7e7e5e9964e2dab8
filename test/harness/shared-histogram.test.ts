/**
 * The shared latency histogram: percentiles within its 1 % bucket width of the exact nearest-rank
 * values, whether one recorder or several (in one thread or in worker threads) fill the buffer;
 * nothing visible before a flush; the maximum exact to the microsecond.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { prng } from '../../src/harness/prng.js';
import { SharedHistogram } from '../../src/harness/shared-histogram.js';

const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

/** Exact nearest-rank quantile: the smallest value with at least ⌈q·n⌉ values at or below it. */
function exactQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

const DISTRIBUTIONS: Record<string, (n: number) => number[]> = {
  'uniform 0.001–100 ms': (n) => {
    const random = prng(1);
    return Array.from({ length: n }, () => (1 + Math.floor(random() * 100_000)) / 1000);
  },
  'exponential, mean 5 ms': (n) => {
    const random = prng(2);
    return Array.from({ length: n }, () => 0.01 - 5 * Math.log(1 - random()));
  },
  'log-normal around 1 ms, σ 1.5': (n) => {
    const random = prng(3);
    return Array.from({ length: n }, () => {
      const gauss = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return Math.exp(1.5 * gauss);
    });
  },
  '99 % at 1 ms, 1 % at 500 ms': (n) => Array.from({ length: n }, (_, i) => (i % 100 === 99 ? 500 : 1)),
};

function expectWithinOnePercent(histogram: SharedHistogram, values: readonly number[]): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QUANTILES) {
    const exact = exactQuantile(sorted, q);
    const reported = histogram.quantileMs(q);
    expect(Math.abs(reported - exact), `q=${q}: reported ${reported}, exact ${exact}`).toBeLessThanOrEqual(
      exact * 0.01,
    );
  }
  expect(histogram.maxMs()).toBe(Math.ceil(sorted.at(-1)! * 1000) / 1000);
}

describe('SharedHistogram percentiles', () => {
  for (const [name, generate] of Object.entries(DISTRIBUTIONS)) {
    it(`reports p50, p90, p99 and p99.9 of ${name} within 1 % of the exact values`, () => {
      const values = generate(100_000);
      const histogram = new SharedHistogram();
      for (const v of values) histogram.recordMs(v);
      histogram.flush();
      expect(histogram.count()).toBe(values.length);
      expectWithinOnePercent(histogram, values);
    });
  }

  it('reports a single value exactly at every percentile, since no percentile exceeds the maximum', () => {
    const histogram = new SharedHistogram();
    histogram.recordMs(123.456);
    histogram.flush();
    expect(histogram.summary()).toEqual({
      p50: 123.456,
      p90: 123.456,
      p99: 123.456,
      p999: 123.456,
      max: 123.456,
    });
  });

  it('keeps the maximum exact to the microsecond, however far it lies from the rest', () => {
    const histogram = new SharedHistogram();
    for (let i = 0; i < 10_000; i++) histogram.recordMs(0.25 + (i % 50) / 100);
    histogram.recordMs(1234.567);
    histogram.recordMs(3.25);
    histogram.flush();
    expect(histogram.maxMs()).toBe(1234.567);
    expect(histogram.quantileMs(1)).toBe(1234.567);
  });

  it('keeps percentiles non-decreasing up to the maximum', () => {
    const histogram = new SharedHistogram();
    for (const v of DISTRIBUTIONS['log-normal around 1 ms, σ 1.5']!(20_000)) histogram.recordMs(v);
    histogram.flush();
    const { p50, p90, p99, p999, max } = histogram.summary();
    expect(p50).toBeLessThanOrEqual(p90);
    expect(p90).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThanOrEqual(p999);
    expect(p999).toBeLessThanOrEqual(max);
  });
});

describe('SharedHistogram merging', () => {
  it('merges several recorders on one buffer into the percentiles of all their values', () => {
    const values = DISTRIBUTIONS['exponential, mean 5 ms']!(60_000);
    const reader = new SharedHistogram();
    const recorders = Array.from({ length: 4 }, () => new SharedHistogram(reader.buffer));
    values.forEach((v, i) => {
      const recorder = recorders[i % recorders.length]!;
      recorder.recordMs(v);
      // Flush at different moments per recorder, as batches end at different times in threads.
      if (i % (97 + (i % recorders.length)) === 0) recorder.flush();
    });
    for (const recorder of recorders) recorder.flush();
    expect(reader.count()).toBe(values.length);
    expectWithinOnePercent(reader, values);
  });

  it('merges recorders in worker threads flushing concurrently, maximum included', async () => {
    const url = new URL('../../dist/src/harness/shared-histogram.js', import.meta.url).href;
    const values = DISTRIBUTIONS['log-normal around 1 ms, σ 1.5']!(90_000);
    const threads = 3;
    const reader = new SharedHistogram();
    const workers = Array.from({ length: threads }, (_, k) => {
      const share = values.filter((_, i) => i % threads === k);
      return new Worker(
        `const { workerData } = require('node:worker_threads');
         import(workerData.url).then(({ SharedHistogram }) => {
           const histogram = new SharedHistogram(workerData.buffer);
           workerData.share.forEach((v, i) => {
             histogram.recordMs(v);
             if (i % 64 === 63) histogram.flush();
           });
           histogram.flush();
         });`,
        { eval: true, workerData: { url, buffer: reader.buffer, share } },
      );
    });
    const exits = await Promise.all(workers.map((w) => once(w, 'exit')));
    expect(exits.map(([code]) => code)).toEqual(Array(threads).fill(0));
    expect(reader.count()).toBe(values.length);
    expectWithinOnePercent(reader, values);
  });
});

describe('SharedHistogram flushing', () => {
  it('shows nothing to readers until the recorder flushes', () => {
    const recorder = new SharedHistogram();
    const reader = new SharedHistogram(recorder.buffer);
    for (let i = 1; i <= 100; i++) recorder.recordMs(i);
    expect(reader.count()).toBe(0);
    expect(reader.summary()).toEqual({ p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    recorder.flush();
    expect(reader.count()).toBe(100);
    expect(reader.maxMs()).toBe(100);
  });

  it('adds nothing when flushed again without new values', () => {
    const histogram = new SharedHistogram();
    for (let i = 1; i <= 10; i++) histogram.recordMs(i);
    histogram.flush();
    histogram.flush();
    histogram.flush();
    expect(histogram.count()).toBe(10);
  });

  it('accumulates successive flushes, and a later smaller maximum never lowers the shared one', () => {
    const histogram = new SharedHistogram();
    histogram.recordMs(40);
    histogram.recordMs(2);
    histogram.flush();
    histogram.recordMs(7);
    histogram.flush();
    expect(histogram.count()).toBe(3);
    expect(histogram.maxMs()).toBe(40);
    expect(Math.abs(histogram.quantileMs(0.5) - 7)).toBeLessThanOrEqual(0.07);
  });

  it('starts from empty after reset', () => {
    const histogram = new SharedHistogram();
    histogram.recordMs(5);
    histogram.flush();
    histogram.reset();
    expect(histogram.count()).toBe(0);
    expect(histogram.summary()).toEqual({ p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });
});
