import type { ResolvedRetryOptions } from './retry-options.js';

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
