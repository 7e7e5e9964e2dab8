import type { QueueStats } from '../queue/event-queue.js';
import type { SourceHealth } from '../sources/source.js';
import {
  DEAD_LETTER_REASONS,
  H_WRITE_DURATION,
  M_BUSY_NS,
  M_DEAD_LETTERED,
  M_DECODE_TRANSFORM_US,
  M_QUEUE_WAIT_US,
  M_RELEASE_WAIT_US,
  M_RETRIES,
  M_SINK_WRITE_EVENT_US,
  M_STAGE_EVENTS,
  M_WRITTEN,
  type MetricsBlock,
  R_WRITTEN,
  routeSlot,
} from './metrics-block.js';
import type { RecentFigures } from './recent-window.js';

/** One snapshot for the live dashboard and `sluice top`; rates are derived by the reader. */
export interface LiveStats {
  /** Wall-clock ms when the snapshot was taken. */
  takenAt: number;
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
   * Push → ack over the events acknowledged in the last 5 s (interpolated within the histogram's
   * buckets), ms; the previous window's figures when nothing was acknowledged in it.
   */
  latencyP50Ms: number;
  latencyP99Ms: number;
  workers: number;
  /** Share of worker time spent on batches over the last 5 s. */
  workerUtilization: number;
  /** Worker time spent on batches, all workers together, since start (a counter). */
  busySeconds: number;
  /** The part of busySeconds spent inside sink writes, retries included (a counter). */
  sinkWriteSeconds: number;
  /** How long the sink has failed every write; 0 while its last write worked. */
  sinkFailingSeconds: number;
  ready: boolean;
  /** Why the pipeline is not ready (as /readyz says); empty while it is. */
  notReadyReasons: string[];
  /** Where a watched broker source stands with its broker (Pipeline.watchSource), when there is one. */
  source?: SourceHealth;
  /**
   * Where an event's time goes, summed over the events of acknowledged batches (counters, s): in the
   * ring before a worker took its batch, decode + transform, sink writes, and waiting acknowledged
   * for earlier batches to be released. Divide by `events` (or the deltas of two snapshots) for
   * the mean per event.
   */
  stages?: {
    events: number;
    queueWaitSeconds: number;
    decodeTransformSeconds: number;
    sinkWriteSeconds: number;
    releaseWaitSeconds: number;
  };
  /** Each route, in order, when the pipeline has several: what its sink acknowledged, and how long it has failed every write. */
  routes?: RouteStats[];
  /** The disk queue's log, with `queue.durability: 'disk'`; absent for a queue in memory alone. */
  disk?: DiskQueueLiveStats;
}

/** Where a disk queue's log stands: gauges, and counters whose rates the reader derives. */
export interface DiskQueueLiveStats {
  /** Bytes in the log's segment files. */
  bytes: number;
  /** Events in the log not yet acknowledged by their sinks. */
  events: number;
  /** Events in the log not yet taken into the ring: the backlog beyond it. */
  backlogEvents: number;
  /** Bytes of that backlog, framed: what `maxDiskBytes` bounds. */
  backlogBytes: number;
  /** The bound on `backlogBytes` (queue.maxDiskBytes), past which the full policy applies. */
  maxDiskBytes: number;
  /** When a push counts as durable (queue.fsync). */
  fsync: 'group' | 'interval' | 'never';
  /** fsyncs of the log since start (a counter). */
  fsyncs: number;
  /** Time those fsyncs took, all together, s (a counter: the fsync histogram's sum). */
  fsyncSeconds: number;
  /** Events replayed from the log when the pipeline started. */
  replayed: number;
}

export interface RouteStats {
  name: string;
  /** Events the route's sink acknowledged (a counter). */
  written: number;
  /** How long the route's sink has failed every write; 0 while its last write worked. */
  failingSeconds: number;
}

/** Reads a snapshot from shared memory: no message to any worker. */
export function liveStats(
  q: QueueStats,
  block: MetricsBlock,
  workers: number,
  recent: RecentFigures,
  health: { ready: boolean; reasons: string[]; sinkFailingMs: number },
  source?: SourceHealth,
  routes?: { name: string; failingMs: number }[],
  disk?: DiskQueueLiveStats,
): LiveStats {
  let deadLettered = 0;
  for (let i = 0; i < DEAD_LETTER_REASONS.length; i++) deadLettered += block.read(M_DEAD_LETTERED + i);
  return {
    takenAt: Date.now(),
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
    latencyP50Ms: recent.latencyP50Ms,
    latencyP99Ms: recent.latencyP99Ms,
    workers,
    workerUtilization: recent.workerUtilization,
    busySeconds: block.read(M_BUSY_NS) / 1e9,
    sinkWriteSeconds: block.histogram(H_WRITE_DURATION).sum,
    sinkFailingSeconds: health.sinkFailingMs / 1000,
    ready: health.ready,
    notReadyReasons: health.reasons,
    stages: {
      events: block.read(M_STAGE_EVENTS),
      queueWaitSeconds: block.read(M_QUEUE_WAIT_US) / 1e6,
      decodeTransformSeconds: block.read(M_DECODE_TRANSFORM_US) / 1e6,
      sinkWriteSeconds: block.read(M_SINK_WRITE_EVENT_US) / 1e6,
      releaseWaitSeconds: block.read(M_RELEASE_WAIT_US) / 1e6,
    },
    ...(source ? { source } : {}),
    ...(routes && routes.length > 1
      ? {
          routes: routes.map((route, i) => ({
            name: route.name,
            written: block.read(routeSlot(i, R_WRITTEN)),
            failingSeconds: route.failingMs / 1000,
          })),
        }
      : {}),
    ...(disk ? { disk } : {}),
  };
}

/**
 * The last `keepMs` of snapshots, one every `everyMs`, so that a dashboard opened now starts with
 * the recent past instead of an empty chart. Sampled on its own timer (unref'd), from the first
 * time it is asked for.
 */
export class LiveHistory {
  readonly #read: () => LiveStats;
  readonly #everyMs: number;
  readonly #keep: number;
  readonly #snapshots: LiveStats[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(read: () => LiveStats, everyMs = 1000, keepMs = 120_000) {
    this.#read = read;
    this.#everyMs = everyMs;
    this.#keep = Math.max(1, Math.ceil(keepMs / everyMs));
  }

  start(): this {
    if (this.#timer) return this;
    this.#take();
    this.#timer = setInterval(() => this.#take(), this.#everyMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Oldest first. */
  snapshots(): LiveStats[] {
    return [...this.#snapshots];
  }

  #take(): void {
    this.#snapshots.push(this.#read());
    if (this.#snapshots.length > this.#keep) this.#snapshots.splice(0, this.#snapshots.length - this.#keep);
  }
}
