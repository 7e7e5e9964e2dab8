import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { linearScale, logScale, niceStep } from '../../../src/harness/report/scale.js';

/** 1, 2 or 5 times a power of ten, allowing for floating-point noise. */
function isOneTwoFive(v: number): boolean {
  const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6);
}

describe('linear scale', () => {
  it('steps from zero by 1, 2 or 5 × 10ⁿ to the first tick at or above the data maximum', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e12, noNaN: true }), (max) => {
        const { ticks, domain } = linearScale(max);
        const step = (ticks[1] ?? 0) - (ticks[0] ?? 0);
        expect(ticks[0]).toBe(0);
        expect(isOneTwoFive(step)).toBe(true);
        ticks.forEach((t, i) => {
          expect(t).toBeCloseTo(i * step, 9);
        });
        expect(domain[1]).toBe(ticks[ticks.length - 1]);
        expect(domain[1]).toBeGreaterThanOrEqual(max);
        expect(domain[1] - step).toBeLessThan(max);
        expect(ticks.length).toBeGreaterThanOrEqual(2);
        expect(ticks.length).toBeLessThanOrEqual(11);
      }),
    );
  });

  it('gives round ticks for typical throughputs', () => {
    expect(linearScale(412_345).ticks).toEqual([0, 100_000, 200_000, 300_000, 400_000, 500_000]);
    expect(linearScale(0.7).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
  });

  it('still has an axis when every value is zero', () => {
    expect(linearScale(0).ticks.length).toBeGreaterThanOrEqual(2);
  });

  it('rounds a rough step up to the next 1-2-5 value', () => {
    expect([niceStep(0.13), niceStep(3), niceStep(7), niceStep(10), niceStep(11)]).toEqual([
      0.2, 5, 10, 10, 20,
    ]);
  });
});

describe('log scale', () => {
  it('covers the data with 1-2-5 ticks, ascending, the ends enclosing min and max', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-4, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        (min, spread) => {
          const max = min * spread;
          const { ticks } = logScale(min, max);
          expect(ticks.every(isOneTwoFive)).toBe(true);
          expect(ticks[0]).toBeLessThanOrEqual(min * (1 + 1e-9));
          expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max * (1 - 1e-9));
          for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBeGreaterThan(ticks[i - 1] ?? 0);
        },
      ),
    );
  });

  it('labels only decades when the data spans more than two of them', () => {
    expect(logScale(0.8, 14_400).ticks).toEqual([0.1, 1, 10, 100, 1000, 10_000, 100_000]);
  });

  it('labels 1-2-5 steps over a narrow span, tight around the data', () => {
    expect(logScale(2.3, 15).ticks).toEqual([2, 5, 10, 20]);
  });

  it('draws zero and values below the range at the axis start', () => {
    const scale = logScale(1, 100);
    expect(scale.position(0)).toBe(0);
    expect(scale.position(100)).toBe(1);
    expect(scale.position(10)).toBeCloseTo(0.5, 9);
  });
});
