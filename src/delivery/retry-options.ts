// Retry options as delivery reads them. Their schema and resolveRetryOptions, which check them on
// the main thread, are in src/config/retry-options-schema.ts: worker threads never load zod.

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
