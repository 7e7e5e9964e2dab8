import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import type { HistogramSnapshot } from '../cumulative-histogram.js';
import { FSYNC_SECONDS_BUCKETS } from '../queue/disk-log.js';
import type { QueueStats } from '../queue/event-queue.js';
import type { SourceHealth } from '../sources/source.js';
import { EVENT_LOOP_DELAY_BUCKETS, EventLoopDelayHistogram } from './event-loop-delay.js';
import {
  DEAD_LETTER_REASONS,
  H_BATCH_SIZE,
  H_LATENCY,
  H_WRITE_DURATION,
  type HistogramSlots,
  M_BUSY_NS,
  M_DEAD_LETTERED,
  M_DECODE_TRANSFORM_US,
  M_ERRORS_PERMANENT,
  M_ERRORS_RETRYABLE,
  M_QUEUE_WAIT_US,
  M_RELEASE_WAIT_US,
  M_RETRIES,
  M_SINK_WRITE_EVENT_US,
  M_STAGE_EVENTS,
  type MetricsBlock,
  R_WRITTEN,
  routeSlot,
} from './metrics-block.js';
import type { RecentFigures } from './recent-window.js';

/** What the metrics read from the pipeline on every scrape (no copy kept in between). */
export interface MetricsSource {
  block: MetricsBlock;
  queue: () => QueueStats;
  /**
   * Each route, in the pipeline's order: its name and its sink's kind (labels of
   * sluice_events_written_total), and its own dead-letter sink's kind if it has one.
   */
  routes: readonly { name: string; sinkType: string; deadLetterSinkType?: string | undefined }[];
  /** The pipeline's dead-letter sink's kind. */
  deadLetterSinkType: string;
  workers: () => number;
  workerRestarts: () => number;
  /** Figures over the last seconds, shared with every other reader. */
  recent: () => RecentFigures;
  /** Where a watched broker source stands with its broker, when one is watched. */
  source: () => SourceHealth | undefined;
  /** Since when each sink has been failing its writes; undefined while its last write worked. */
  sinkFailing: () => SinkFailing;
  /** The disk queue's figures, with queue.durability 'disk'. */
  disk?: () => {
    bytes: number;
    records: number;
    fsyncs: number;
    replayed: number;
    backlogRecords: number;
    backlogBytes: number;
  };
  /** How long the disk queue's fsyncs took, seconds. */
  fsyncSeconds?: () => HistogramSnapshot;
}

/** Since when a sink has failed every write, and for how long, ms. */
export interface Failing {
  since: number;
  forMs: number;
}

/** Which sinks are failing: the earliest of the routes' sinks, the pipeline's dead-letter sink, each route's. */
export interface SinkFailing {
  sink?: Failing | undefined;
  'dead-letter sink'?: Failing | undefined;
  /** In the routes' order: the route's sink, and its own dead-letter sink if it has one. */
  routes: { sink?: Failing | undefined; deadLetter?: Failing | undefined }[];
}

interface MetricValue {
  value: number;
  labels?: Record<string, string | number>;
  metricName?: string;
}

type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * A metric whose values are read when scraped. prom-client calls `get()`; the values come from
 * shared memory, so recording costs workers one Atomics.add per batch and scraping costs nothing
 * until someone scrapes.
 */
class ReadOnScrape {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  readonly #read: () => MetricValue[];

  constructor(name: string, help: string, type: MetricType, read: () => MetricValue[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#read = read;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.#read(),
      aggregator: this.aggregator,
    };
  }

  reset(): void {}
}

/** One sample labelled with the source's kind, or none when no source is watched or the broker did not say. */
function sourceValue(
  health: SourceHealth | undefined,
  pick: (health: SourceHealth) => number | undefined,
): MetricValue[] {
  const value = health ? pick(health) : undefined;
  return health && value !== undefined ? [{ labels: { source: health.source }, value }] : [];
}

function histogramValues(name: string, block: MetricsBlock, slots: HistogramSlots): MetricValue[] {
  const h = block.histogram(slots);
  return [
    ...h.buckets.map((b) => ({ metricName: `${name}_bucket`, labels: { le: b.le }, value: b.value })),
    { metricName: `${name}_sum`, value: h.sum },
    { metricName: `${name}_count`, value: h.count },
  ];
}

/** A histogram kept in this thread (CumulativeHistogram) as Prometheus samples. */
function snapshotValues(name: string, bounds: readonly number[], h: HistogramSnapshot): MetricValue[] {
  return [
    ...h.cumulative.map((value, i) => ({
      metricName: `${name}_bucket`,
      labels: { le: i < bounds.length ? String(bounds[i]) : '+Inf' },
      value,
    })),
    { metricName: `${name}_sum`, value: h.sum },
    { metricName: `${name}_count`, value: h.count },
  ];
}

export interface PipelineMetricsOptions {
  /** Also collect Node's default process metrics into this registry. @default false */
  defaultMetrics?: boolean;
  /**
   * Workers record batch counters and histograms into shared memory. Off, they record nothing
   * (the ring's own statistics remain); for measuring what metrics cost. @default true
   */
  enabled?: boolean;
  /**
   * How long the sink (or the dead-letter sink) must have failed every write before the pipeline
   * reports itself not ready (`/readyz` 503, the dashboard's badge), ms. 0: at the first failure.
   * @default 10000
   */
  sinkDownAfterMs?: number;
}

export interface PipelineMetrics {
  registry: Registry;
  /** Stops the event-loop delay timer. */
  close(): void;
}

/**
 * prom-client, loaded the first time a pipeline's metrics are asked for (synchronously: the
 * `metrics` getter is): a pipeline nobody scrapes never pays the ~0.1 s it takes to load.
 */
function loadPromClient(): typeof import('prom-client') {
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
}

const PROM_CLIENT_MISNAMED_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The registry behind `pipeline.metrics`: every sluice_* metric, read on scrape. */
export function createPipelineMetrics(
  source: MetricsSource,
  options: PipelineMetricsOptions = {},
): PipelineMetrics {
  const promClient = loadPromClient();
  const registry = new promClient.Registry();
  const { block } = source;
  const loopDelay = new EventLoopDelayHistogram().start();

  const metrics: ReadOnScrape[] = [
    new ReadOnScrape('sluice_events_pushed_total', 'Events accepted into the ring.', 'counter', () => [
      { value: source.queue().recordsWritten },
    ]),
    new ReadOnScrape(
      'sluice_events_written_total',
      "Events a route's sink acknowledged (an event sent to several routes counts in each).",
      'counter',
      () =>
        source.routes.map((route, i) => ({
          labels: { route: route.name, sink: route.sinkType },
          value: block.read(routeSlot(i, R_WRITTEN)),
        })),
    ),
    new ReadOnScrape(
      'sluice_events_dead_lettered_total',
      'Events written to the dead-letter sink, by reason.',
      'counter',
      () =>
        DEAD_LETTER_REASONS.map((reason, i) => ({
          labels: { reason },
          value: block.read(M_DEAD_LETTERED + i),
        })),
    ),
    new ReadOnScrape(
      'sluice_events_dropped_total',
      'Events a full-ring policy discarded or refused, by policy.',
      'counter',
      () => {
        const q = source.queue();
        return [
          { labels: { policy: 'drop-newest' }, value: q.droppedNewest },
          { labels: { policy: 'drop-oldest' }, value: q.droppedOldest },
          { labels: { policy: 'reject' }, value: q.rejected },
        ];
      },
    ),
    new ReadOnScrape(
      'sluice_sink_up',
      'Whether the last write to a route\'s sink (role="sink") or a dead-letter sink (role="dead-letter"; without route, the pipeline\'s) worked, 1, or failed, 0.',
      'gauge',
      () => sinkValues(source, (failing) => (failing ? 0 : 1)),
    ),
    new ReadOnScrape(
      'sluice_sink_failing_seconds',
      'How long the sink has failed every write, 0 while its last write worked (alert on it with your own threshold).',
      'gauge',
      () => sinkValues(source, (failing) => (failing?.forMs ?? 0) / 1000),
    ),
    new ReadOnScrape(
      'sluice_source_lag_messages',
      "Messages in the broker's stream not yet delivered to this source's group or durable.",
      'gauge',
      () => sourceValue(source.source(), (h) => h.waiting),
    ),
    new ReadOnScrape(
      'sluice_source_unacked_messages',
      "Messages delivered to the source's group and not yet acknowledged, by any of its processes.",
      'gauge',
      () => sourceValue(source.source(), (h) => h.unacked),
    ),
    new ReadOnScrape(
      'sluice_source_held_messages',
      'Messages this process read and holds unacknowledged until their events are written.',
      'gauge',
      () => sourceValue(source.source(), (h) => h.held),
    ),
    new ReadOnScrape('sluice_sink_retries_total', 'Sink write attempts after the first.', 'counter', () => [
      { value: block.read(M_RETRIES) },
    ]),
    new ReadOnScrape(
      'sluice_sink_errors_total',
      'Failed sink writes, by whether they were retryable.',
      'counter',
      () => [
        { labels: { retryable: 'true' }, value: block.read(M_ERRORS_RETRYABLE) },
        { labels: { retryable: 'false' }, value: block.read(M_ERRORS_PERMANENT) },
      ],
    ),
    new ReadOnScrape(
      'sluice_queue_depth_events',
      'Events in the ring: queued and in flight.',
      'gauge',
      () => [{ value: source.queue().depthRecords }],
    ),
    new ReadOnScrape('sluice_queue_depth_bytes', 'Bytes of the ring in use.', 'gauge', () => [
      { value: source.queue().depthBytes },
    ]),
    new ReadOnScrape('sluice_queue_capacity_bytes', 'Bytes the ring holds (all partitions).', 'gauge', () => [
      { value: source.queue().capacityBytes },
    ]),
    new ReadOnScrape(
      'sluice_producer_blocked_seconds_total',
      'Time producers spent waiting for room.',
      'counter',
      () => [{ value: source.queue().producerBlockedMs / 1000 }],
    ),
    new ReadOnScrape(
      'sluice_backpressure_events_total',
      'Times a producer found the ring full.',
      'counter',
      () => [{ value: source.queue().producerWaits }],
    ),
    new ReadOnScrape('sluice_batch_size_events', 'Events per dispatched batch.', 'histogram', () =>
      histogramValues('sluice_batch_size_events', block, H_BATCH_SIZE),
    ),
    new ReadOnScrape('sluice_end_to_end_latency_seconds', 'Push to sink acknowledgement.', 'histogram', () =>
      histogramValues('sluice_end_to_end_latency_seconds', block, H_LATENCY),
    ),
    new ReadOnScrape(
      'sluice_sink_write_duration_seconds',
      'Time inside sink writes per batch, retries included.',
      'histogram',
      () => histogramValues('sluice_sink_write_duration_seconds', block, H_WRITE_DURATION),
    ),
    ...(source.disk
      ? [
          new ReadOnScrape(
            'sluice_disk_queue_bytes',
            "Bytes in the disk queue's segment files.",
            'gauge',
            () => [{ value: source.disk!().bytes }],
          ),
          new ReadOnScrape(
            'sluice_disk_queue_events',
            'Events in the disk queue not yet acknowledged by their sinks.',
            'gauge',
            () => [{ value: source.disk!().records }],
          ),
          new ReadOnScrape(
            'sluice_disk_queue_backlog_events',
            'Events in the disk queue not yet taken into the ring: the backlog beyond it.',
            'gauge',
            () => [{ value: source.disk!().backlogRecords }],
          ),
          new ReadOnScrape(
            'sluice_disk_queue_backlog_bytes',
            'Bytes of that backlog, framed: what queue.maxDiskBytes bounds.',
            'gauge',
            () => [{ value: source.disk!().backlogBytes }],
          ),
          new ReadOnScrape('sluice_disk_fsyncs_total', "fsyncs of the disk queue's log.", 'counter', () => [
            { value: source.disk!().fsyncs },
          ]),
          new ReadOnScrape(
            'sluice_disk_fsync_duration_seconds',
            "How long each fsync of the disk queue's log took.",
            'histogram',
            () =>
              snapshotValues(
                'sluice_disk_fsync_duration_seconds',
                FSYNC_SECONDS_BUCKETS,
                source.fsyncSeconds!(),
              ),
          ),
          new ReadOnScrape(
            'sluice_disk_replayed_events_total',
            'Events accepted by an earlier run and never acknowledged, replayed at start.',
            'counter',
            () => [{ value: source.disk!().replayed }],
          ),
        ]
      : []),
    new ReadOnScrape(
      'sluice_event_stage_seconds_total',
      "Where events' time went, summed over the events of acknowledged batches: in the ring before a worker took the batch (queue_wait), decode + transform, sink writes (each event waits for its batch), and waiting acknowledged for earlier batches before release (release_wait). Divide its rate by sluice_event_stage_events_total's for the mean per event.",
      'counter',
      () => [
        { labels: { stage: 'queue_wait' }, value: block.read(M_QUEUE_WAIT_US) / 1e6 },
        { labels: { stage: 'decode_transform' }, value: block.read(M_DECODE_TRANSFORM_US) / 1e6 },
        { labels: { stage: 'sink_write' }, value: block.read(M_SINK_WRITE_EVENT_US) / 1e6 },
        { labels: { stage: 'release_wait' }, value: block.read(M_RELEASE_WAIT_US) / 1e6 },
      ],
    ),
    new ReadOnScrape(
      'sluice_event_stage_events_total',
      'Events of acknowledged batches counted in sluice_event_stage_seconds_total.',
      'counter',
      () => [{ value: block.read(M_STAGE_EVENTS) }],
    ),
    new ReadOnScrape(
      'sluice_worker_busy_seconds_total',
      'Time worker threads spent running batches; rate() over sluice_workers is their utilisation.',
      'counter',
      () => [{ value: block.read(M_BUSY_NS) / 1e9 }],
    ),
    new ReadOnScrape('sluice_workers', 'Worker threads running.', 'gauge', () => [
      { value: source.workers() },
    ]),
    new ReadOnScrape(
      'sluice_worker_utilization_ratio',
      'Share of worker time spent on batches over the last 5 s (sampled every second; the same for every scraper).',
      'gauge',
      () => [{ value: source.recent().workerUtilization }],
    ),
    new ReadOnScrape(
      'sluice_worker_restarts_total',
      'Workers that died or timed out and were replaced.',
      'counter',
      () => [{ value: source.workerRestarts() }],
    ),
    new ReadOnScrape(
      'sluice_event_loop_delay_seconds',
      "How late the main thread's event loop ran a 10 ms timer.",
      'histogram',
      () => snapshotValues('sluice_event_loop_delay_seconds', EVENT_LOOP_DELAY_BUCKETS, loopDelay.snapshot()),
    ),
  ];
  for (const metric of metrics)
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  if (options.defaultMetrics) {
    promClient.collectDefaultMetrics({ register: registry });
    // prom-client names three gauges `_total`, which `promtool check metrics` flags (a `_total`
    // suffix promises a counter to rate()); their labelled siblings (`nodejs_active_handles{type}`,
    // …) carry the same figures.
    for (const name of PROM_CLIENT_MISNAMED_GAUGES) registry.removeSingleMetric(name);
  }
  return { registry, close: () => loopDelay.stop() };
}

/**
 * One value per sink from its failing state: each route's sink (labels route, sink, role "sink"),
 * each route's own dead-letter sink, and the pipeline's dead-letter sink (no route label).
 */
function sinkValues(source: MetricsSource, value: (failing: Failing | undefined) => number): MetricValue[] {
  const failing = source.sinkFailing();
  const values: MetricValue[] = [];
  source.routes.forEach((route, i) => {
    const state = failing.routes[i];
    values.push({
      labels: { route: route.name, sink: route.sinkType, role: 'sink' },
      value: value(state?.sink),
    });
    if (route.deadLetterSinkType !== undefined)
      values.push({
        labels: { route: route.name, sink: route.deadLetterSinkType, role: 'dead-letter' },
        value: value(state?.deadLetter),
      });
  });
  values.push({
    labels: { sink: source.deadLetterSinkType, role: 'dead-letter' },
    value: value(failing['dead-letter sink']),
  });
  return values;
}
