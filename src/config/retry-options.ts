import { integer, MAX_TIMER_MS, numberFrom, oneOf, orInfinity, strictObject } from './option-schema.js';
import { resolveOptions } from './resolve-options.js';
import { markResolved } from './resolved-marker.js';

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

const d = DEFAULT_RETRY_OPTIONS;
const ATTEMPTS = 'an integer ≥ 1 or Infinity';
// A backoff delay is a timer's, and a Node timer waits at most MAX_TIMER_MS.
const DELAY = `a number of milliseconds from 0 to ${MAX_TIMER_MS}`;
const ELAPSED = 'a number of milliseconds ≥ 0 or Infinity';

/** Retry options, validated and with every default filled in. */
export const retryOptionsSchema = strictObject({
  maxAttempts: orInfinity(integer(1, Number.MAX_SAFE_INTEGER, ATTEMPTS), ATTEMPTS).default(d.maxAttempts),
  initialDelayMs: numberFrom(0, MAX_TIMER_MS, DELAY).default(d.initialDelayMs),
  maxDelayMs: numberFrom(0, MAX_TIMER_MS, DELAY).default(d.maxDelayMs),
  maxElapsedMs: orInfinity(numberFrom(0, Number.MAX_VALUE, ELAPSED), ELAPSED).default(d.maxElapsedMs),
  jitter: oneOf(['full', 'none'], "'full' or 'none'").default(d.jitter),
}).transform((retry): ResolvedRetryOptions => markResolved('retry', retry));

/** Merges `options` over the defaults and validates every field, reporting every problem at once. */
export function resolveRetryOptions(options: RetryOptions = {}, prefix = 'retry'): ResolvedRetryOptions {
  return resolveOptions(retryOptionsSchema, options, 'retry', prefix);
}
