import { stripUndefined } from '../config/queue-options.js';
import { InvalidOptionError } from '../errors.js';

export interface RetryOptions {
  /**
   * Attempts per record, the first included; `Infinity`: as many as `maxElapsedMs` allows.
   * Retryable failures are retried with the batch held in the ring (backpressure), so a sink that
   * is down for a while costs time, not dead letters.
   * @default Infinity
   */
  maxAttempts?: number;
  /** Backoff ceiling before jitter for the first retry, ms. @default 50 */
  initialDelayMs?: number;
  /** Backoff ceiling never grows past this, ms. @default 5000 */
  maxDelayMs?: number;
  /**
   * No retry starts later than this after a record's first failure, ms; past it, a record that
   * still fails retryably is dead-lettered as `retries-exhausted`. `Infinity`: never.
   * @default 300000 (five minutes)
   */
  maxElapsedMs?: number;
  /** `full`: a uniformly random delay in [0, ceiling]; `none`: the ceiling itself. @default 'full' */
  jitter?: 'full' | 'none';
}

export type ResolvedRetryOptions = Required<RetryOptions>;

export const DEFAULT_RETRY_OPTIONS: Readonly<ResolvedRetryOptions> = Object.freeze({
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 50,
  maxDelayMs: 5000,
  maxElapsedMs: 300_000,
  jitter: 'full',
});

export function resolveRetryOptions(options: RetryOptions = {}, prefix = 'retry'): ResolvedRetryOptions {
  const r = { ...DEFAULT_RETRY_OPTIONS, ...stripUndefined(options) };
  if (!(Number.isInteger(r.maxAttempts) || r.maxAttempts === Number.POSITIVE_INFINITY) || r.maxAttempts < 1) {
    throw new InvalidOptionError(`${prefix}.maxAttempts`, 'an integer ≥ 1 or Infinity', r.maxAttempts);
  }
  for (const field of ['initialDelayMs', 'maxDelayMs', 'maxElapsedMs'] as const) {
    if (typeof r[field] !== 'number' || !(r[field] >= 0)) {
      throw new InvalidOptionError(`${prefix}.${field}`, 'a number of milliseconds ≥ 0', r[field]);
    }
  }
  if (r.jitter !== 'full' && r.jitter !== 'none') {
    throw new InvalidOptionError(`${prefix}.jitter`, "'full' or 'none'", r.jitter);
  }
  return r;
}

/**
 * Delay before retry number `retry` (1 = the first retry): exponential growth from
 * initialDelayMs, capped at maxDelayMs, with full jitter (AWS's "full jitter" spreads retries of
 * many workers apart instead of letting them hammer a recovering sink in step). A sink's own
 * retry-after wins when it is longer.
 */
export function backoffDelay(
  retry: number,
  options: ResolvedRetryOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(retry - 1, 30));
  const delay = options.jitter === 'full' ? random() * ceiling : ceiling;
  return retryAfterMs !== undefined ? Math.max(delay, retryAfterMs) : delay;
}
