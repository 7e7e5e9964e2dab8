import type { QueueStats } from '../queue/event-queue.js';
import {
  DEAD_LETTER_REASONS,
  H_LATENCY,
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
  /** Push → ack, from the latency histogram's buckets (upper bounds), ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  workers: number;
  workerUtilization: number;
  ready: boolean;
}

/** Reads a snapshot from shared memory: no message to any worker. */
export function liveStats(
  q: QueueStats,
  block: MetricsBlock,
  workers: number,
  utilization: UtilizationMeter,
  ready: boolean,
): LiveStats {
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
    latencyP50Ms: block.quantile(H_LATENCY, 0.5) * 1000,
    latencyP99Ms: block.quantile(H_LATENCY, 0.99) * 1000,
    workers,
    workerUtilization: utilization.read(),
    ready,
  };
}
