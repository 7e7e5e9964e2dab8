import type { SinkRecord } from '../codec/event.js';
import { isPerRecord, isRetryable, retryAfterOf, type Sink } from '../sinks/sink.js';
import { type DeadLetter, deadLetter } from './dead-letter.js';
import type { ResolvedRetryOptions } from './retry-options.js';
import { backoffDelay } from './retry-policy.js';

/** How far a batch's retries have gone: carried from one dispatch of the batch to the next. */
export interface RetryState {
  /** Write attempts made so far, the first included. */
  attempts: number;
  /** Wall-clock ms of the first failure. */
  firstFailureAt: number;
}

/** Records still failing retryably when delivery handed them back instead of waiting longer. */
export interface HeldRecords extends RetryState {
  records: readonly SinkRecord[];
  /** The backoff delay the next attempt is due after, ms. */
  retryInMs: number;
  error: unknown;
}

export interface DeliveryReport {
  written: number;
  deadLetters: DeadLetter[];
  /** Set when retryable failures outlasted `yieldAt`: these records were neither written nor dead-lettered. */
  held?: HeldRecords;
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
  /**
   * Called after every write attempt, as it happens (metrics of a sink that is down must move
   * while it is down, not once the batch finally succeeds): `failed` records of `records`, and
   * whether any failure was retryable or permanent. An attempt whose only failures are records the
   * sink refused on their own (`perRecord`) still reached a working sink: `sinkWorked` says so.
   */
  onAttempt?: (info: {
    attempt: number;
    records: number;
    failed: number;
    retryable: boolean;
    permanent: boolean;
    sinkWorked: boolean;
  }) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Wall-clock ms. */
  now?: () => number;
}

export interface DeliveryOptions {
  /** Where an earlier dispatch of the same batch left its retries. */
  carried?: RetryState | undefined;
  /**
   * Wall-clock ms after which a retry that would have to wait is not waited for: the records are
   * handed back in `held`, so the caller can hold them elsewhere (the ring) instead of inside one
   * long task.
   */
  yieldAt?: number | undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Failure {
  record: SinkRecord;
  error: unknown;
}

/**
 * Writes `records` to `sink`, once for every sink: a whole-batch failure is retried as a whole,
 * per-record failures are retried for just those records, with exponential backoff and full
 * jitter, until `retry.maxAttempts` or `retry.maxElapsedMs` runs out. A batch refused because of
 * some of its records (a SinkError with `perRecord`) is split until those records stand alone, so
 * only they are dead-lettered. Records that fail permanently or run out of retries come back as
 * dead letters, with the sink's message; nothing is dropped.
 */
export async function deliverBatch(
  sink: Sink,
  records: readonly SinkRecord[],
  retry: ResolvedRetryOptions,
  hooks: DeliveryHooks = {},
  options: DeliveryOptions = {},
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
  let attempt = options.carried?.attempts ?? 0;
  let firstFailureAt = options.carried?.firstFailureAt;
  while (pending.length > 0) {
    attempt++;
    if (attempt > 1) report.retries++;
    const started = performance.now();
    const failed = await writeIsolating(sink, pending);
    report.writeMs += performance.now() - started;
    report.written += pending.length - failed.length;
    if (hooks.onAttempt) {
      let retryable = false;
      let permanent = false;
      let refusedAlone = 0;
      for (const { error } of failed) {
        if (isRetryable(error)) retryable = true;
        else {
          permanent = true;
          if (isPerRecord(error)) refusedAlone++;
        }
      }
      hooks.onAttempt({
        attempt,
        records: pending.length,
        failed: failed.length,
        retryable,
        permanent,
        sinkWorked: !retryable && (failed.length < pending.length || refusedAlone === failed.length),
      });
    }
    if (failed.length === 0) break;
    firstFailureAt ??= now();
    const again: SinkRecord[] = [];
    let retryAfter: number | undefined;
    let lastRetryable: unknown;
    const outOfTime = attempt >= retry.maxAttempts || now() - firstFailureAt >= retry.maxElapsedMs;
    // Errors of one attempt are counted once per kind, not per record.
    let sawPermanent = false;
    for (const { record, error } of failed) {
      if (!isRetryable(error)) {
        sawPermanent = true;
        report.deadLetters.push(deadLetter(eventOf(record), 'sink-rejected', error, attempt, firstFailureAt));
        continue;
      }
      lastRetryable = error;
      if (outOfTime) {
        report.deadLetters.push(
          deadLetter(eventOf(record), 'retries-exhausted', error, attempt, firstFailureAt),
        );
      } else {
        again.push(record);
        const after = retryAfterOf(error);
        if (after !== undefined) retryAfter = Math.max(retryAfter ?? 0, after);
      }
    }
    if (lastRetryable !== undefined) report.retryableErrors++;
    if (sawPermanent) report.permanentErrors++;
    pending = again;
    if (pending.length === 0) break;
    const delayMs = backoffDelay(attempt, retry, retryAfter, hooks.random);
    if (options.yieldAt !== undefined && now() + delayMs > options.yieldAt) {
      report.held = {
        records: pending,
        attempts: attempt,
        firstFailureAt,
        retryInMs: delayMs,
        error: lastRetryable,
      };
      break;
    }
    hooks.onRetry?.({ attempt, delayMs, records: pending, error: lastRetryable });
    await sleep(delayMs);
  }
  return report;
}

/** What a dead letter keeps of a record: its fields and payload, not the payload's JSON twice. */
function eventOf(record: SinkRecord): DeadLetter['event'] {
  return { id: record.id, key: record.key, source: record.source, ts: record.ts, payload: record.payload };
}

/**
 * One write attempt. When the sink refuses the batch because of some of its records, the halves
 * are written on their own, recursively — about 2·log2(n) writes to find one bad record among n.
 * A retryable failure stops the split: what follows it is not written ahead of it but waits for
 * its retry, so a record never lands after a later one of the same batch (ordering: 'key').
 */
async function writeIsolating(sink: Sink, records: readonly SinkRecord[]): Promise<Failure[]> {
  try {
    const outcome = await sink.write(records);
    return outcome?.failed.map(({ index, error }) => ({ record: records[index]!, error })) ?? [];
  } catch (error) {
    if (records.length < 2 || !isPerRecord(error) || isRetryable(error)) {
      return records.map((record) => ({ record, error }));
    }
    const mid = records.length >>> 1;
    const first = await writeIsolating(sink, records.slice(0, mid));
    const stop = first.find((failure) => isRetryable(failure.error));
    if (stop) return [...first, ...records.slice(mid).map((record) => ({ record, error: stop.error }))];
    return [...first, ...(await writeIsolating(sink, records.slice(mid)))];
  }
}
