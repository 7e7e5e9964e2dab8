import type { QueueStats } from '../queue/event-queue.js';
import {
  DEAD_LETTER_REASONS,
  H_LATENCY,
  interpolatedQuantile,
  M_BUSY_NS,
  M_DEAD_LETTERED,
  M_RETRIES,
  M_WRITTEN,
  type MetricsBlock,
} from './metrics-block.js';

/** Share of worker time spent on batches between two readings (at least 100 ms apart). */
export class UtilizationMeter {
  readonly #block: MetricsBlock;
  readonly #workers: () => number;
  #lastBusyNs: number;
  #last = performance.now();
  #value = 0;

  constructor(block: MetricsBlock, workers: () => number) {
    this.#block = block;
    this.#workers = workers;
    this.#lastBusyNs = block.read(M_BUSY_NS);
  }

  read(): number {
    const now = performance.now();
    // Readings closer than 100 ms apart repeat the last figure instead of dividing by almost nothing.
    if (now - this.#last >= 100) {
      const busyNs = this.#block.read(M_BUSY_NS);
      this.#value = Math.min(
        1,
        (busyNs - this.#lastBusyNs) / ((now - this.#last) * 1e6 * Math.max(1, this.#workers())),
      );
      this.#lastBusyNs = busyNs;
      this.#last = now;
    }
    return this.#value;
  }
}

/** One snapshot for the live dashboard and `sluice top`; rates are derived by the reader. */
export interface LiveStats {
  /** Wall-clock ms of the snapshot. */
  t: number;
  pushed: number;
  written: number;
  deadLettered: number;
  dropped: number;
  retries: number;
  queueDepthEvents: number;
  queueDepthBytes: number;
  queueCapacityBytes: number;
  producerBlockedSeconds: number;
  backpressureEvents: number;
  /**
   * Push → ack over the events acknowledged since the previous snapshot (interpolated within the
   * histogram's buckets), ms; the previous figures when nothing was acknowledged in between.
   */
  latencyP50Ms: number;
  latencyP99Ms: number;
  workers: number;
  workerUtilization: number;
  ready: boolean;
}

/** Latency percentiles over the observations since the previous reading. */
export class RecentLatency {
  readonly #block: MetricsBlock;
  #last: number[];
  #p50 = 0;
  #p99 = 0;

  constructor(block: MetricsBlock) {
    this.#block = block;
    this.#last = block.bucketCounts(H_LATENCY);
  }

  read(): { p50Ms: number; p99Ms: number } {
    const now = this.#block.bucketCounts(H_LATENCY);
    const delta = now.map((n, i) => n - this.#last[i]!);
    this.#last = now;
    const p50 = interpolatedQuantile(H_LATENCY.bounds, delta, 0.5);
    if (!Number.isNaN(p50)) {
      this.#p50 = p50 * 1000;
      this.#p99 = interpolatedQuantile(H_LATENCY.bounds, delta, 0.99) * 1000;
    }
    return { p50Ms: this.#p50, p99Ms: this.#p99 };
  }
}

/** Reads a snapshot from shared memory: no message to any worker. */
export function liveStats(
  q: QueueStats,
  block: MetricsBlock,
  workers: number,
  utilization: UtilizationMeter,
  latency: RecentLatency,
  ready: boolean,
): LiveStats {
  const recent = latency.read();
  let deadLettered = 0;
  for (let i = 0; i < DEAD_LETTER_REASONS.length; i++) deadLettered += block.read(M_DEAD_LETTERED + i);
  return {
    t: Date.now(),
    pushed: q.recordsWritten,
    written: block.read(M_WRITTEN),
    deadLettered,
    dropped: q.droppedNewest + q.droppedOldest + q.rejected,
    retries: block.read(M_RETRIES),
    queueDepthEvents: q.depthRecords,
    queueDepthBytes: q.depthBytes,
    queueCapacityBytes: q.capacityBytes,
    producerBlockedSeconds: q.producerBlockedMs / 1000,
    backpressureEvents: q.producerWaits,
    latencyP50Ms: recent.p50Ms,
    latencyP99Ms: recent.p99Ms,
    workers,
    workerUtilization: utilization.read(),
    ready,
  };
}
