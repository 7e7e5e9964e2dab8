import type { DeadLetterReason } from '../delivery/dead-letter.js';
import {
  BATCH_SIZE_BUCKETS,
  type BatchTally,
  bucketIndex,
  H_BATCH_SIZE,
  H_LATENCY,
  H_WRITE_DURATION,
  LATENCY_BUCKETS,
  M_BATCHES,
  M_BUSY_NS,
  M_ERRORS_PERMANENT,
  M_ERRORS_RETRYABLE,
  M_FILTERED,
  M_RETRIES,
  M_WRITTEN,
  type MetricsBlock,
} from '../metrics/metrics-block.js';
import type { BatchResult } from './batch-task.js';

/**
 * Adds an acknowledged batch to the shared metrics: one Atomics.add per counter and per touched
 * bucket, per batch. `busyMs`: the worker's time on it.
 */
export function recordBatch(m: MetricsBlock, result: BatchResult, tally: BatchTally, busyMs: number): void {
  m.add(M_WRITTEN, result.written);
  m.add(M_RETRIES, result.retries);
  m.add(M_ERRORS_RETRYABLE, result.retryableErrors);
  m.add(M_ERRORS_PERMANENT, result.permanentErrors);
  m.add(M_FILTERED, result.filtered);
  m.add(M_BATCHES, 1);
  m.add(M_BUSY_NS, busyMs * 1e6);
  for (const [reason, n] of Object.entries(result.deadLettered) as [DeadLetterReason, number][]) {
    m.deadLettered(reason, n);
  }
  m.observe(H_LATENCY, tally.latency, tally.latencySum, tally.latencyCount);
  if (result.writeMs > 0) {
    const counts = new Float64Array(LATENCY_BUCKETS.length + 1);
    counts[bucketIndex(LATENCY_BUCKETS, result.writeMs / 1000)] = 1;
    m.observe(H_WRITE_DURATION, counts, result.writeMs / 1000, 1);
  }
  const sizes = new Float64Array(BATCH_SIZE_BUCKETS.length + 1);
  sizes[bucketIndex(BATCH_SIZE_BUCKETS, result.records)] = 1;
  m.observe(H_BATCH_SIZE, sizes, result.records, 1);
}
