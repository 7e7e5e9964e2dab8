import {
  DEFAULT_RETRY_OPTIONS,
  type ResolvedRetryOptions,
  type RetryOptions,
} from '../delivery/retry-options.js';
import { markResolved } from '../resolved-marker.js';
import { integer, MAX_TIMER_MS, numberFrom, oneOf, orInfinity, strictObject } from './option-schema.js';
import { resolveOptions } from './resolve-options.js';

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
