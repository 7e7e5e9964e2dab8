/** `sluice bench --tune`: which settings are tried, and which one is recommended. */
import { describe, expect, it } from 'vitest';
import {
  isRecommended,
  recommend,
  type TuneTrial,
  tuneBatchSizes,
  tuneWorkerCounts,
} from '../../src/harness/tune.js';

const trial = (
  workers: number,
  batchMaxRecords: number,
  eventsPerSec: number,
  p99: number,
  lost = 0,
): TuneTrial => ({
  workers,
  batchMaxRecords,
  eventsPerSec,
  latencyMs: { p50: p99 / 2, p90: p99 / 1.5, p99, p999: p99 * 1.2, max: p99 * 1.5 },
  lost,
});

describe('the settings --tune tries', () => {
  it('tries every worker count from 1 to the CPUs', () => {
    expect(tuneWorkerCounts(2)).toEqual([1, 2]);
    expect(tuneWorkerCounts(4)).toEqual([1, 2, 3, 4]);
    expect(tuneWorkerCounts(0)).toEqual([1]);
  });

  it('tries a tenth of the configured batch size, the size itself and ten times it, within 1 … 1 000 000', () => {
    expect(tuneBatchSizes(5000)).toEqual([500, 5000, 50_000]);
    expect(tuneBatchSizes(1)).toEqual([1, 10]);
    expect(tuneBatchSizes(1_000_000)).toEqual([100_000, 1_000_000]);
  });
});

describe('recommend', () => {
  it('recommends the best throughput among the settings whose p99 stays under the target', () => {
    const trials = [trial(1, 500, 50_000, 20), trial(2, 500, 90_000, 80), trial(2, 5000, 120_000, 300)];
    const result = recommend(trials, 100);
    expect(result.recommended).toEqual(trials[1]);
    expect(result.summary).toContain('2 worker(s), batches of up to 500 records');
    expect(result.configLines).toBe('workers:\n  min: 2\n  max: 2\nbatch:\n  maxRecords: 500\n');
    expect(trials.filter((t) => isRecommended(t, result.recommended))).toEqual([trials[1]]);
  });

  it('never recommends a setting that lost events', () => {
    const trials = [trial(1, 500, 50_000, 20), trial(2, 500, 90_000, 30, 3)];
    expect(recommend(trials, 100).recommended).toEqual(trials[0]);
  });

  it('prefers fewer workers, then smaller batches, among settings within 2 % of the best', () => {
    const trials = [trial(2, 5000, 100_000, 10), trial(1, 5000, 99_000, 10), trial(1, 500, 98_500, 10)];
    expect(recommend(trials, 100).recommended).toEqual(trials[2]);
  });

  it('recommends nothing, and says the lowest p99 seen, when no setting meets the target', () => {
    const result = recommend([trial(1, 500, 50_000, 120), trial(2, 500, 90_000, 150)], 100);
    expect(result.recommended).toBeUndefined();
    expect(result.configLines).toBeUndefined();
    expect(result.summary).toContain('No setting kept p99 under 100 ms');
    expect(result.summary).toContain('120.0 ms with 1 workers');
  });
});
