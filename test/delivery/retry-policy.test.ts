import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveRetryOptions } from '../../src/config/retry-options-schema.js';
import type { ResolvedRetryOptions } from '../../src/delivery/retry-options.js';
import { DEFAULT_RETRY_OPTIONS } from '../../src/delivery/retry-options.js';
import { backoffDelay } from '../../src/delivery/retry-policy.js';

const options = (overrides: Partial<ResolvedRetryOptions> = {}): ResolvedRetryOptions => ({
  ...DEFAULT_RETRY_OPTIONS,
  ...overrides,
});

describe('backoffDelay', () => {
  it('draws a full-jitter delay in [0, min(maxDelayMs, initialDelayMs * 2^(n-1))] for every retry n', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, initialDelayMs, maxDelayMs, r) => {
          const delay = backoffDelay(n, options({ initialDelayMs, maxDelayMs }), undefined, () => r);
          // 2^(n-1) overflows to Infinity for large n; 0 × Infinity would be NaN, the ceiling is 0.
          const ceiling = initialDelayMs === 0 ? 0 : Math.min(maxDelayMs, initialDelayMs * 2 ** (n - 1));
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(delay).toBeCloseTo(r * ceiling, 6);
        },
      ),
    );
  });

  it('spans the whole jitter range: random 0 gives 0 and random near 1 gives nearly the ceiling', () => {
    const o = options({ initialDelayMs: 100, maxDelayMs: 10_000 });
    expect(backoffDelay(3, o, undefined, () => 0)).toBe(0);
    expect(backoffDelay(3, o, undefined, () => 0.999999)).toBeCloseTo(400, 2);
  });

  it('doubles the ceiling with each retry from initialDelayMs up to maxDelayMs when jitter is none', () => {
    const o = options({ initialDelayMs: 50, maxDelayMs: 1000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, o))).toEqual([
      50, 100, 200, 400, 800, 1000, 1000, 1000,
    ]);
  });

  it('stays at maxDelayMs, finite, for absurdly many retries', () => {
    const o = options({ initialDelayMs: 1, maxDelayMs: 5000, jitter: 'none' });
    expect(backoffDelay(1_000_000, o)).toBe(5000);
  });

  it('honours a retry-after longer than the backoff, and ignores a shorter one', () => {
    const o = options({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 'none' });
    expect(backoffDelay(1, o, 2500)).toBe(2500);
    expect(backoffDelay(1, o, 20)).toBe(100);
    expect(backoffDelay(1, options({ initialDelayMs: 100 }), 30, () => 0)).toBe(30);
  });
});

describe('resolveRetryOptions', () => {
  it('fills in the documented defaults', () => {
    expect(resolveRetryOptions()).toEqual({
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: 50,
      maxDelayMs: 5000,
      maxElapsedMs: 300_000,
      jitter: 'full',
    });
    expect(resolveRetryOptions({ maxAttempts: undefined, jitter: 'none' })).toMatchObject({
      maxAttempts: Number.POSITIVE_INFINITY,
      jitter: 'none',
    });
  });

  it.each([
    [{ maxAttempts: 0 }, 'retry.maxAttempts', '0'],
    [{ maxAttempts: 1.5 }, 'retry.maxAttempts', '1.5'],
    [{ initialDelayMs: -1 }, 'retry.initialDelayMs', '-1'],
    [{ maxDelayMs: Number.NaN }, 'retry.maxDelayMs', 'NaN'],
    [{ maxElapsedMs: '10' as unknown as number }, 'retry.maxElapsedMs', '"10"'],
    [{ jitter: 'half' as 'full' }, 'retry.jitter', '"half"'],
  ])('rejects %j naming the field and quoting the value', (input, field, quoted) => {
    expect(() => resolveRetryOptions(input)).toThrow(
      expect.objectContaining({
        code: 'SLUICE_INVALID_OPTION',
        message: expect.stringMatching(new RegExp(`^${field.replace('.', '\\.')} .*got ${quoted}$`)),
      }),
    );
  });
});
