import { isRetryable, retryAfterOf, type Sink, type SinkRecord } from '../sinks/sink.js';
import { type DeadLetter, deadLetter } from './dead-letter.js';
import { backoffDelay, type ResolvedRetryOptions } from './retry-policy.js';

export interface DeliveryReport {
  written: number;
  deadLetters: DeadLetter[];
  /** Write attempts after the first. */
  retries: number;
  /** Failed write attempts, by whether they were retryable. */
  retryableErrors: number;
  permanentErrors: number;
  /** Time spent inside sink.write, ms. */
  writeMs: number;
}

export interface DeliveryHooks {
  /** Called once per failed attempt that will be retried (for a log line per batch, not per event). */
  onRetry?: (info: {
    attempt: number;
    delayMs: number;
    records: readonly SinkRecord[];
    error: unknown;
  }) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Writes `records` to `sink`, once for every sink: a whole-batch failure is retried as a whole,
 * per-record failures are retried for just those records, with exponential backoff and full
 * jitter, bounded by attempts and elapsed time. Records that fail permanently or run out of
 * retries come back as dead letters; nothing is dropped.
 */
export async function deliverBatch(
  sink: Sink,
  records: readonly SinkRecord[],
  retry: ResolvedRetryOptions,
  hooks: DeliveryHooks = {},
): Promise<DeliveryReport> {
  const sleep = hooks.sleep ?? defaultSleep;
  const now = hooks.now ?? Date.now;
  const report: DeliveryReport = {
    written: 0,
    deadLetters: [],
    retries: 0,
    retryableErrors: 0,
    permanentErrors: 0,
    writeMs: 0,
  };
  let pending = records;
  let attempt = 0;
  let firstFailureAt: number | undefined;
  while (pending.length > 0) {
    attempt++;
    if (attempt > 1) report.retries++;
    let failed: { record: SinkRecord; error: unknown }[];
    const started = performance.now();
    try {
      const outcome = await sink.write(pending);
      failed = outcome?.failed.map(({ index, error }) => ({ record: pending[index]!, error })) ?? [];
    } catch (error) {
      failed = pending.map((record) => ({ record, error }));
    }
    report.writeMs += performance.now() - started;
    report.written += pending.length - failed.length;
    if (failed.length === 0) break;
    firstFailureAt ??= now();
    const again: SinkRecord[] = [];
    let retryAfter: number | undefined;
    const outOfTime = attempt >= retry.maxAttempts || now() - firstFailureAt >= retry.maxElapsedMs;
    // Errors of one attempt are counted once per kind, not per record.
    let sawRetryable = false;
    let sawPermanent = false;
    for (const { record, error } of failed) {
      if (!isRetryable(error)) {
        sawPermanent = true;
        report.deadLetters.push(deadLetter(record, 'sink-rejected', error, attempt, firstFailureAt));
      } else if (outOfTime) {
        sawRetryable = true;
        report.deadLetters.push(deadLetter(record, 'retries-exhausted', error, attempt, firstFailureAt));
      } else {
        sawRetryable = true;
        again.push(record);
        const after = retryAfterOf(error);
        if (after !== undefined) retryAfter = Math.max(retryAfter ?? 0, after);
      }
    }
    if (sawRetryable) report.retryableErrors++;
    if (sawPermanent) report.permanentErrors++;
    pending = again;
    if (pending.length > 0) {
      const delayMs = backoffDelay(attempt, retry, retryAfter, hooks.random);
      hooks.onRetry?.({ attempt, delayMs, records: pending, error: failed[0]!.error });
      await sleep(delayMs);
    }
  }
  return report;
}
