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
  M_DECODE_TRANSFORM_US,
  M_ERRORS_PERMANENT,
  M_ERRORS_RETRYABLE,
  M_FILTERED,
  M_QUEUE_WAIT_US,
  M_RETRIES,
  M_SINK_WRITE_EVENT_US,
  M_STAGE_EVENTS,
  M_WRITTEN,
  type MetricsBlock,
  R_WRITTEN,
  routeSlot,
} from '../metrics/metrics-block.js';
import type { BatchResult } from './batch-task.js';

/**
 * Adds an acknowledged batch to the shared metrics: one Atomics.add per counter and per touched
 * bucket, per batch. Counted once the batch is acknowledged, so a batch handed back and
 * dispatched again is not counted twice; its worker time and its sink's errors and retries are
 * counted as they happen instead (recordBusy, sinkHooks).
 */
export function recordBatch(m: MetricsBlock, result: BatchResult, tally: BatchTally): void {
  m.add(M_WRITTEN, result.written);
  result.writtenByRoute.forEach((n, route) => {
    m.add(routeSlot(route, R_WRITTEN), n);
  });
  m.add(M_FILTERED, result.filtered);
  m.add(M_BATCHES, 1);
  for (const [reason, n] of Object.entries(result.deadLettered) as [DeadLetterReason, number][]) {
    m.deadLettered(reason, n);
  }
  m.observe(H_LATENCY, tally.latency, tally.latencySum, tally.latencyCount);
  if (result.writeMs > 0) {
    const counts = new Float64Array(LATENCY_BUCKETS.length + 1);
    counts[bucketIndex(LATENCY_BUCKETS, result.writeMs / 1000)] = 1;
    m.observe(H_WRITE_DURATION, counts, result.writeMs / 1000, 1);
  }
  // Each event of the batch spent the batch's times: summed per event, µs.
  m.add(M_STAGE_EVENTS, result.records);
  m.add(M_QUEUE_WAIT_US, result.queueWaitMsSum * 1000);
  m.add(M_DECODE_TRANSFORM_US, result.decodeTransformMs * 1000 * result.records);
  m.add(M_SINK_WRITE_EVENT_US, result.writeMs * 1000 * result.records);
  const sizes = new Float64Array(BATCH_SIZE_BUCKETS.length + 1);
  sizes[bucketIndex(BATCH_SIZE_BUCKETS, result.records)] = 1;
  m.observe(H_BATCH_SIZE, sizes, result.records, 1);
}

/**
 * A worker's time on a batch, acknowledged or not: a sink that is down keeps workers busy
 * retrying, and the busy-time counter should say so while it lasts.
 */
export function recordBusy(m: MetricsBlock, busyMs: number): void {
  m.add(M_BUSY_NS, busyMs * 1e6);
}

/** What the delivery hooks report of one write attempt (DeliveryHooks.onAttempt). */
interface Attempt {
  attempt: number;
  retryable: boolean;
  permanent: boolean;
  sinkWorked: boolean;
}

/**
 * A sink's write attempt, counted as it happens — errors and retries — so that an outage shows
 * while it lasts, not once the batch finally gets through.
 */
export function countAttempt(m: MetricsBlock, info: Attempt): void {
  if (info.attempt > 1) m.add(M_RETRIES, 1);
  if (info.retryable) m.add(M_ERRORS_RETRYABLE, 1);
  if (info.permanent) m.add(M_ERRORS_PERMANENT, 1);
}

/**
 * Since when a sink role has been failing (`failingSlot`), after each attempt: what /readyz and
 * sluice_sink_up read.
 */
export function trackSinkUp(m: MetricsBlock, failingSlot: number, info: Attempt, nowMs: number): void {
  if (info.sinkWorked) m.sinkWrote(failingSlot);
  else m.sinkFailed(failingSlot, nowMs);
}
