import type { DeadLetterReason } from '../delivery/dead-letter.js';
import type { BatchResult } from './batch-task.js';

/** Totals of what the workers reported, kept on the main thread (one update per batch). */
export class PipelineCounters {
  batches = 0;
  batchRecords = 0;
  written = 0;
  filtered = 0;
  deadLettered: Partial<Record<DeadLetterReason, number>> = {};
  retries = 0;
  retryableErrors = 0;
  permanentErrors = 0;
  workerFailures = 0;
  redispatched = 0;
  splits = 0;
  deferred = 0;
  latencySumMs = 0;
  latencyMaxMs = 0;
  /** Records each route's sink acknowledged, in the order of the pipeline's routes. */
  writtenByRoute: number[] = [];

  add(result: BatchResult): void {
    this.batches++;
    this.batchRecords += result.records;
    this.written += result.written;
    this.filtered += result.filtered;
    this.retries += result.retries;
    this.retryableErrors += result.retryableErrors;
    this.permanentErrors += result.permanentErrors;
    this.latencySumMs += result.latencySumMs;
    if (result.latencyMaxMs > this.latencyMaxMs) this.latencyMaxMs = result.latencyMaxMs;
    result.writtenByRoute.forEach((n, i) => {
      this.writtenByRoute[i] = (this.writtenByRoute[i] ?? 0) + (n ?? 0);
    });
    for (const [reason, n] of Object.entries(result.deadLettered) as [DeadLetterReason, number][]) {
      this.deadLettered[reason] = (this.deadLettered[reason] ?? 0) + n;
    }
  }

  get deadLetteredTotal(): number {
    let total = 0;
    for (const n of Object.values(this.deadLettered)) total += n ?? 0;
    return total;
  }

  snapshot() {
    return {
      batches: this.batches,
      meanBatchRecords: this.batches ? this.batchRecords / this.batches : 0,
      written: this.written,
      filtered: this.filtered,
      deadLettered: this.deadLetteredTotal,
      deadLetteredByReason: { ...this.deadLettered },
      // Of acknowledged batches, as each reported them (the metrics count every attempt as it
      // happens, a batch handed back and dispatched again included).
      retries: this.retries,
      retryableErrors: this.retryableErrors,
      permanentErrors: this.permanentErrors,
      workerFailures: this.workerFailures,
      redispatched: this.redispatched,
      splits: this.splits,
      deferred: this.deferred,
      meanLatencyMs: this.written ? this.latencySumMs / this.written : 0,
      maxLatencyMs: this.latencyMaxMs,
    };
  }
}

export type PipelineCountersSnapshot = ReturnType<PipelineCounters['snapshot']>;
