import { describe, expect, it } from 'vitest';
import type { SweepPoint } from '../../../src/harness/bench-report.js';
import { kneeIndex, sweepBySystem } from '../../../src/harness/report/sweep-knee.js';
import { sweepOf } from './sample-report.js';

function point(fraction: number, eventsPerSec: number, p99: number): SweepPoint {
  return {
    system: 'engine',
    fraction,
    targetRate: fraction * 100_000,
    eventsPerSec,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 },
  };
}

describe('sweep knee', () => {
  it('is the last point before p99 shoots up while throughput stops growing', () => {
    const points = [
      point(0.2, 20_000, 2),
      point(0.4, 40_000, 2.2),
      point(0.6, 60_000, 2.5),
      point(0.8, 80_000, 3),
      point(1, 86_000, 60),
      point(1.2, 86_500, 900),
    ];
    expect(kneeIndex(points)).toBe(3);
  });

  it('falls on the bend of the sample sweep', () => {
    const points = sweepOf('engine', 400_000, 2);
    expect(points[kneeIndex(points) ?? -1]?.fraction).toBe(0.9);
  });

  it('is not named when p99 stays flat across the sweep', () => {
    const points = [
      point(0.2, 20_000, 2),
      point(0.6, 60_000, 2.6),
      point(1, 99_000, 2.1),
      point(1.2, 100_000, 3),
    ];
    expect(kneeIndex(points)).toBeUndefined();
  });

  it('groups points by system in order of first appearance, each by offered fraction', () => {
    const sweep = [
      { ...point(0.5, 1, 1), system: 'b' },
      { ...point(1, 1, 1), system: 'a' },
      { ...point(0.1, 1, 1), system: 'b' },
    ];
    const grouped = sweepBySystem(sweep);
    expect([...grouped.keys()]).toEqual(['b', 'a']);
    expect(grouped.get('b')?.map((p) => p.fraction)).toEqual([0.1, 0.5]);
  });
});
