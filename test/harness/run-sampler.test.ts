import { describe, expect, it } from 'vitest';
import { rssTrend } from '../../src/harness/run-sampler.js';

const MiB = 1024 * 1024;

describe('rssTrend', () => {
  it('gives the median RSS of the first and last quarter of the samples, in MiB', () => {
    // 12 samples: quarters of 3; a spike in each quarter does not move its median.
    const samples = [100, 400, 101, 150, 150, 150, 150, 150, 150, 200, 900, 201].map((m) => m * MiB);
    expect(rssTrend(samples)).toEqual({ firstQuarterMiB: 101, lastQuarterMiB: 201 });
  });

  it('says nothing from fewer than 8 samples', () => {
    expect(rssTrend([1, 2, 3, 4, 5, 6, 7].map((m) => m * MiB))).toBeUndefined();
    expect(rssTrend(Array.from({ length: 8 }, () => 50 * MiB))).toEqual({
      firstQuarterMiB: 50,
      lastQuarterMiB: 50,
    });
  });
});
