import { describe, expect, it } from 'vitest';
import {
  formatCompact,
  formatCount,
  formatRatio,
  formatSignificant,
  formatSignificantTrimmed,
} from '../../../src/harness/report/format.js';

describe('number formats', () => {
  it('abbreviates throughputs with an SI prefix and at most three significant digits', () => {
    expect([950, 21_500, 412_345, 999_999, 1_250_000, 0].map(formatCompact)).toEqual([
      '950',
      '21.5 k',
      '412 k',
      '1 M',
      '1.25 M',
      '0',
    ]);
  });

  it('groups thousands in counts', () => {
    expect(formatCount(2_000_000)).toBe('2,000,000');
    expect(formatCount(undefined)).toBe('—');
  });

  it('gives latencies three significant digits and whole numbers from 100 up', () => {
    expect([0.04234, 1.5, 12.345, 412.4, 14_400.2, 0].map(formatSignificant)).toEqual([
      '0.0423',
      '1.50',
      '12.3',
      '412',
      '14,400',
      '0',
    ]);
    expect([0.8, 4, 19.25].map(formatSignificantTrimmed)).toEqual(['0.8', '4', '19.3']);
  });

  it('writes ratios with a multiplication sign', () => {
    expect([3, 19.16, 140.2, 0.25, 0.00222].map(formatRatio)).toEqual([
      '3.00×',
      '19.2×',
      '140×',
      '0.25×',
      '0.0022×',
    ]);
    expect(formatRatio(Number.POSITIVE_INFINITY)).toBe('—');
  });
});
