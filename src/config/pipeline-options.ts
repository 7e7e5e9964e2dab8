import { DEFAULT_MAX_DEPTH } from '../codec/decode-event.js';
import type { ResolvedRetryOptions, RetryOptions } from '../delivery/retry-options.js';
import type { PipelineMetricsOptions } from '../metrics/pipeline-metrics.js';
import type { QueueOptions, ResolvedQueueOptions } from '../queue/queue-options.js';
import { markResolved } from '../resolved-marker.js';
import type { ResolvedSinkSpec, SinkSpec } from '../sinks/sink-spec.js';
import {
  type BatchGroup,
  type BatchOptions,
  batchOptionsSchema,
  type ResolvedBatchOptions,
  resolvedBatch,
} from './batch-options.js';
import { type LogOptions, logOptionsSchema, type ResolvedLogOptions } from './log-options.js';
import { pipelineMetricsOptionsSchema, type ResolvedPipelineMetricsOptions } from './metrics-options.js';
import { integer, moduleReference, oneOf, strictObject } from './option-schema.js';
import { queueOptionsSchema } from './queue-options-schema.js';
import { resolveOptions } from './resolve-options.js';
import { retryOptionsSchema } from './retry-options-schema.js';
import {
  defaultRouteSchema,
  type ParsedRoute,
  type ResolvedRoute,
  type RouteOptions,
  resolveRoutes,
  routesSchema,
  withRouteRules,
} from './route-options.js';
import { sinkSpecSchema } from './sink-spec-schema.js';
import { type ResolvedWorkerOptions, type WorkerOptions, workerOptionsSchema } from './worker-options.js';

export {
  type BatchOptions,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_RECORDS,
  defaultMaxBatchBytes,
  type ResolvedBatchOptions,
} from './batch-options.js';
export { DEFAULT_WORKER_OPTIONS, type ResolvedWorkerOptions, type WorkerOptions } from './worker-options.js';

export interface PipelineOptions {
  queue?: QueueOptions;
  workers?: WorkerOptions;
  batch?: BatchOptions;
  /** Module run inside every worker (see TransformModule); omitted: events pass through. */
  transform?: string | URL;
  /**
   * Where events go. Beside `routes`, the route named `default`.
   * @default { type: 'sqlite', path: 'sluice.db' } (without `routes`)
   */
  sink?: SinkSpec;
  /**
   * Named destinations, each a sink with its own dead-letter sink and retries (see RouteOptions):
   * the transform sends an event to one or several by setting `route` on its output, a route's
   * `when` rule takes the events it matches, `defaultRoute` the rest. An event is settled — its
   * ring space released, its source message acknowledged — once every route it went to has
   * written or dead-lettered it.
   */
  routes?: Record<string, RouteOptions>;
  /** The route of an event no transform and no `when` rule sent anywhere. @default 'default' with `sink` */
  defaultRoute?: string;
  /** Where undeliverable events go, with the reason. @default { type: 'ndjson', path: 'dead-letters.ndjson' } */
  deadLetter?: SinkSpec;
  retry?: RetryOptions;
  /**
   * `none`: batches of one partition run in parallel (fastest). `key`: one batch in flight per
   * partition, so events of one key reach the sink in push order, through retries and crashes
   * (a custom sink that reports per-record failures must respect the rule in `WriteOutcome`).
   * @default 'none'
   */
  ordering?: 'none' | 'key';
  /** `pipeline.metrics` options. */
  metrics?: PipelineMetricsOptions;
  /** Structured logs (pino) from the main thread and every worker into one destination. */
  log?: LogOptions;
  /**
   * How deep an event's JSON may nest arrays and objects. A deeper event is dead-lettered as
   * `too-deep` with its text where it is decoded, in a worker: serialisers and databases overflow
   * their stacks on such values (JSON.stringify at around 10 000 levels), which would otherwise fail
   * the event in the sink, in the dead-letter sink and in a transform. Jackson's default too.
   * @default 1000
   */
  maxNestingDepth?: number;
}

/**
 * Pipeline options as resolvePipelineOptions returns them: every group complete, validated and
 * frozen. This is what the queue, the dispatcher and (through postMessage) the workers receive;
 * none of them validates or fills in defaults again.
 */
export interface ResolvedPipelineOptions {
  queue: ResolvedQueueOptions;
  workers: ResolvedWorkerOptions;
  batch: ResolvedBatchOptions;
  transform: string | undefined;
  /** The default route's sink (the first route's when there is no default): what logs name. */
  sink: ResolvedSinkSpec;
  /** Every route by name, in the order given, `default` (the top-level sink) first when there is one. */
  routes: Readonly<Record<string, ResolvedRoute>>;
  defaultRoute: string | undefined;
  /** The pipeline's dead-letter sink: events failed before a route, and routes without their own. */
  deadLetter: ResolvedSinkSpec;
  retry: ResolvedRetryOptions;
  ordering: 'none' | 'key';
  metrics: ResolvedPipelineMetricsOptions;
  log: ResolvedLogOptions;
  maxNestingDepth: number;
}

export const DEFAULT_SINK = Object.freeze({ type: 'sqlite', path: 'sluice.db' } as const satisfies SinkSpec);
export const DEFAULT_DEAD_LETTER = Object.freeze({
  type: 'ndjson',
  path: 'dead-letters.ndjson',
} as const satisfies SinkSpec);

const DEFAULT_SINK_RESOLVED = sinkSpecSchema.parse(DEFAULT_SINK);

/** The schema of each group, an absent group resolving to its defaults; `sluice run`'s config shares them. */
export const pipelineOptionFields = {
  queue: queueOptionsSchema.prefault({}),
  workers: workerOptionsSchema.prefault({}),
  batch: batchOptionsSchema.prefault({}),
  transform: moduleReference().optional(),
  // Absent: DEFAULT_SINK, unless routes are given (pipelineOptionsOf).
  sink: sinkSpecSchema.optional(),
  routes: routesSchema.optional(),
  defaultRoute: defaultRouteSchema.optional(),
  deadLetter: sinkSpecSchema.prefault(DEFAULT_DEAD_LETTER),
  retry: retryOptionsSchema.prefault({}),
  ordering: oneOf(['none', 'key'], "'none' or 'key'").default('none'),
  metrics: pipelineMetricsOptionsSchema.prefault({}),
  log: logOptionsSchema().prefault({}),
  maxNestingDepth: integer(1, 100_000).default(DEFAULT_MAX_DEPTH),
};

/** Each group as its schema resolves it: the batch's byte limit waits for the queue's capacity. */
export type PipelineGroups = Omit<ResolvedPipelineOptions, 'batch' | 'sink' | 'routes' | 'defaultRoute'> & {
  batch: BatchGroup | ResolvedBatchOptions;
  defaultRoute?: string | undefined;
  sink?: ResolvedSinkSpec | undefined;
  routes?: Record<string, ParsedRoute> | undefined;
};

/** Resolved pipeline options from each group's resolved options. */
export function pipelineOptionsOf(groups: PipelineGroups): ResolvedPipelineOptions {
  const { queue, workers, batch, transform, deadLetter, retry, ordering, metrics, log, maxNestingDepth } =
    groups;
  const routed = resolveRoutes(
    groups.sink ?? (groups.routes === undefined ? DEFAULT_SINK_RESOLVED : undefined),
    groups.routes,
    groups.defaultRoute,
    retry,
  );
  const main = routed.routes[routed.defaultRoute ?? ''] ?? Object.values(routed.routes)[0]!;
  return markResolved('pipeline', {
    queue,
    workers,
    batch: resolvedBatch(batch, queue.capacityBytes),
    transform,
    sink: main.sink,
    routes: routed.routes,
    defaultRoute: routed.defaultRoute,
    deadLetter,
    retry,
    ordering,
    metrics,
    log,
    maxNestingDepth,
  });
}

const pipelineOptionsSchema = withRouteRules(strictObject(pipelineOptionFields)).transform((groups) =>
  pipelineOptionsOf({ ...groups, transform: groups.transform }),
);

/**
 * Validates every option — each group's and every option of the sink types — and fills in the
 * defaults, before any thread starts. Every problem is reported at once, in one
 * InvalidOptionError whose `problems` name each field and quote its value. Options it returned
 * are returned as they are.
 */
export function resolvePipelineOptions(options: PipelineOptions = {}): ResolvedPipelineOptions {
  return resolveOptions(pipelineOptionsSchema, options, 'pipeline');
}
