import type { DeadLetterReason } from '../delivery/dead-letter.js';

/**
 * Pipeline counters in shared memory. Workers add to them with Atomics once per batch — never a
 * message per event — and the main thread reads them when Prometheus scrapes. Layout: BigInt64
 * slots, named below; histograms are runs of cumulative-free bucket counts plus a sum.
 */
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'invalid-json',
  'invalid-event',
  'too-deep',
  'validation-failed',
  'transform-error',
  'invalid-transform-output',
  'unknown-route',
  'unserializable',
  'sink-rejected',
  'retries-exhausted',
  'worker-crash',
  'too-large',
];

/** Upper bounds, seconds: push → sink acknowledgement and sink write duration. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Upper bounds, events per batch. */
export const BATCH_SIZE_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

// Slot indexes.
export const M_WRITTEN = 0;
export const M_RETRIES = 1;
export const M_ERRORS_RETRYABLE = 2;
export const M_ERRORS_PERMANENT = 3;
export const M_FILTERED = 4;
/** Nanoseconds workers spent running batches (utilisation = its rate / workers). */
export const M_BUSY_NS = 5;
export const M_BATCHES = 6;
export const M_DEAD_LETTERED = 7; // one slot per reason, in DEAD_LETTER_REASONS order
const HIST_BASE = M_DEAD_LETTERED + DEAD_LETTER_REASONS.length;

/** A histogram's slots: one per bucket, one for +Inf, then the sum (in micro-units) and the count. */
export interface HistogramSlots {
  readonly base: number;
  readonly bounds: readonly number[];
  /** The sum is kept in integer micro-units of the observed unit (µs for seconds). */
  readonly scale: number;
}

function histogramAt(base: number, bounds: readonly number[], scale: number): HistogramSlots {
  return { base, bounds, scale };
}

const slotsOf = (h: HistogramSlots) => h.bounds.length + 3;
export const H_LATENCY = histogramAt(HIST_BASE, LATENCY_BUCKETS, 1e6);
export const H_WRITE_DURATION = histogramAt(H_LATENCY.base + slotsOf(H_LATENCY), LATENCY_BUCKETS, 1e6);
export const H_BATCH_SIZE = histogramAt(
  H_WRITE_DURATION.base + slotsOf(H_WRITE_DURATION),
  BATCH_SIZE_BUCKETS,
  1,
);
const HEALTH_BASE = H_BATCH_SIZE.base + slotsOf(H_BATCH_SIZE);
/**
 * Wall-clock ms of the first failed write since the last successful one, per sink; 0 while
 * the last write succeeded. Workers set it with compareExchange(0 → now) on a failed attempt (the
 * earliest failure of the streak stays) and store 0 after a successful one.
 */
export const M_DEAD_LETTER_SINK_FAILING_SINCE_MS = HEALTH_BASE;

/**
 * Each route's own slots, route i at ROUTE_BASE + i·ROUTE_SLOTS, in the order the pipeline's
 * routes are given (at most MAX_ROUTE_SLOTS): records its sink acknowledged, and since when its
 * sink and its own dead-letter sink fail (as M_DEAD_LETTER_SINK_FAILING_SINCE_MS above, the
 * pipeline's dead-letter sink's, which a route without one of its own uses).
 */
const ROUTE_BASE = HEALTH_BASE + 1;
export const R_WRITTEN = 0;
export const R_SINK_FAILING_SINCE_MS = 1;
export const R_DEAD_LETTER_FAILING_SINCE_MS = 2;
const ROUTE_SLOTS = 3;
/** As many routes as a pipeline may have (MAX_ROUTES, src/config/route-options.ts). */
export const MAX_ROUTE_SLOTS = 16;
/** Slot `which` (R_…) of the route at `index`. */
export function routeSlot(index: number, which: number): number {
  return ROUTE_BASE + index * ROUTE_SLOTS + which;
}

/**
 * Where an event's time goes, summed over the events of acknowledged batches, µs: in the ring
 * before a worker took its batch (the worker's start less each record's enqueue time); decode +
 * transform and sink writes (the batch's times, once for each of its events: an event waits for
 * its whole batch); and, after the acknowledgement, waiting for earlier batches before the ring
 * space is released in order (added by the main thread). M_STAGE_EVENTS counts the events.
 */
const STAGE_BASE = ROUTE_BASE + MAX_ROUTE_SLOTS * ROUTE_SLOTS;
export const M_STAGE_EVENTS = STAGE_BASE;
export const M_QUEUE_WAIT_US = STAGE_BASE + 1;
export const M_DECODE_TRANSFORM_US = STAGE_BASE + 2;
export const M_SINK_WRITE_EVENT_US = STAGE_BASE + 3;
export const M_RELEASE_WAIT_US = STAGE_BASE + 4;
export const METRIC_SLOTS = STAGE_BASE + 5;

/** Which bucket a value falls in (the last index is +Inf). */
export function bucketIndex(bounds: readonly number[], value: number): number {
  for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) return i;
  return bounds.length;
}

export class MetricsBlock {
  readonly buffer: SharedArrayBuffer;
  readonly #slots: BigInt64Array;

  constructor(buffer = new SharedArrayBuffer(METRIC_SLOTS * 8)) {
    this.buffer = buffer;
    this.#slots = new BigInt64Array(buffer);
  }

  add(slot: number, n: number): void {
    if (n !== 0) Atomics.add(this.#slots, slot, BigInt(Math.round(n)));
  }

  read(slot: number): number {
    return Number(Atomics.load(this.#slots, slot));
  }

  /**
   * A sink's write failed at `nowMs`: starts the failing streak unless one is running. A single
   * word, read on its own: compareExchange keeps the earliest failure when workers race, and no
   * other memory is published with it, so no ordering beyond the word's own is needed.
   */
  sinkFailed(slot: number, nowMs: number): void {
    Atomics.compareExchange(this.#slots, slot, 0n, BigInt(Math.max(1, Math.round(nowMs))));
  }

  /**
   * A sink's write succeeded: the streak ends. A failure that raced this store starts a new
   * streak at its own time on its next attempt, so the word never stays set for a working sink.
   */
  sinkWrote(slot: number): void {
    if (Atomics.load(this.#slots, slot) !== 0n) Atomics.store(this.#slots, slot, 0n);
  }

  deadLettered(reason: DeadLetterReason, n: number): void {
    this.add(M_DEAD_LETTERED + DEAD_LETTER_REASONS.indexOf(reason), n);
  }

  /** Adds locally counted observations: `counts` per bucket (+Inf last), their sum, their count. */
  observe(h: HistogramSlots, counts: ArrayLike<number>, sum: number, count: number): void {
    for (let i = 0; i < counts.length; i++) this.add(h.base + i, counts[i]!);
    this.add(h.base + h.bounds.length + 1, sum * h.scale);
    this.add(h.base + h.bounds.length + 2, count);
  }

  /** A histogram as Prometheus wants it: cumulative buckets, sum, count. */
  histogram(h: HistogramSlots): { buckets: { le: string; value: number }[]; sum: number; count: number } {
    const buckets: { le: string; value: number }[] = [];
    let cumulative = 0;
    for (let i = 0; i <= h.bounds.length; i++) {
      cumulative += this.read(h.base + i);
      buckets.push({ le: i < h.bounds.length ? String(h.bounds[i]) : '+Inf', value: cumulative });
    }
    return {
      buckets,
      sum: this.read(h.base + h.bounds.length + 1) / h.scale,
      count: this.read(h.base + h.bounds.length + 2),
    };
  }

  /** A histogram's raw (non-cumulative) bucket counts, +Inf last. */
  bucketCounts(h: HistogramSlots): number[] {
    return Array.from({ length: h.bounds.length + 1 }, (_, i) => this.read(h.base + i));
  }
}

/** A worker's local tally for one batch, flushed into the block with one Atomics.add per slot. */
export class BatchTally {
  readonly latency = new Float64Array(LATENCY_BUCKETS.length + 1);
  latencySum = 0;
  latencyCount = 0;

  observeLatencySeconds(seconds: number): void {
    this.latency[bucketIndex(LATENCY_BUCKETS, seconds)]!++;
    this.latencySum += seconds;
    this.latencyCount++;
  }
}

/**
 * Quantile q of raw bucket counts, interpolated linearly inside its bucket as Prometheus's
 * histogram_quantile does; NaN when there are no observations.
 */
export function interpolatedQuantile(
  bounds: readonly number[],
  counts: readonly number[],
  q: number,
): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (seen + n >= rank && n > 0) {
      if (i === bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return bounds[bounds.length - 1]!;
}
