import { availableParallelism } from 'node:os';
import {
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from '../delivery/retry-policy.js';
import { InvalidOptionError } from '../errors.js';
import { type LogOptions, type ResolvedLogOptions, resolveLogOptions } from '../logging/logger.js';
import type { PipelineMetricsOptions } from '../metrics/pipeline-metrics.js';
import { type PortableSinkSpec, resolveSinkSpec, type SinkSpec } from '../sinks/sink-spec.js';
import {
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveQueueOptions,
  stripUndefined,
} from './queue-options.js';

export interface WorkerOptions {
  /** Threads kept alive. @default 1 */
  min?: number;
  /** Threads at most. @default the number of CPUs */
  max?: number;
  /** Batches one worker runs at once (useful when the sink waits on I/O). @default 2 */
  concurrentBatchesPerWorker?: number;
  /** A batch taking longer is abandoned, its worker replaced and the batch dispatched again, ms. @default 60000 */
  taskTimeoutMs?: number;
  /**
   * How long createPipeline() waits for the first worker to load the transform (its `setup()`
   * included) and open the sinks, ms; past it, it rejects with SLUICE_STARTUP_TIMEOUT.
   * @default 30000
   */
  startupTimeoutMs?: number;
  /**
   * Each worker's V8 young generation at most, MiB (Node's `resourceLimits.maxYoungGenerationSizeMb`;
   * 0 = V8's own default, 48 on 64-bit). A worker's garbage is almost all young: events decoded,
   * transformed and written within one batch. V8 grows the young generation towards its maximum
   * over the first seconds under load, so with its default every worker's RSS climbs by tens of
   * MiB before it levels off; 24 halves that climb and, measured in `sluice bench`, costs no
   * throughput (see docs/ARCHITECTURE.md, Measured). Lower values make allocation-heavy transforms
   * collect more often (12: −12 % in the cpu-heavy scenario). @default 24
   */
  maxYoungGenerationSizeMb?: number;
}

export interface BatchOptions {
  /** Records per batch at most. @default 1000 */
  maxRecords?: number;
  /** Bytes per batch at most (past the first record). @default 1 MiB */
  maxBytes?: number;
}

export interface PipelineOptions {
  queue?: QueueOptions;
  workers?: WorkerOptions;
  batch?: BatchOptions;
  /** Module run inside every worker (see TransformModule); omitted: events pass through. */
  transform?: string | URL;
  /** Where events go. @default { type: 'sqlite', path: 'sluice.db' } */
  sink?: SinkSpec;
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
}

export interface ResolvedPipelineOptions {
  queue: ResolvedQueueOptions;
  workers: Required<WorkerOptions>;
  batch: Required<BatchOptions>;
  transform: string | undefined;
  sink: PortableSinkSpec;
  deadLetter: PortableSinkSpec;
  retry: ResolvedRetryOptions;
  ordering: 'none' | 'key';
  metrics: PipelineMetricsOptions;
  log: ResolvedLogOptions;
}

export const DEFAULT_WORKER_OPTIONS: Readonly<Required<WorkerOptions>> = Object.freeze({
  min: 1,
  max: availableParallelism(),
  concurrentBatchesPerWorker: 2,
  taskTimeoutMs: 60_000,
  startupTimeoutMs: 30_000,
  maxYoungGenerationSizeMb: 24,
});

export const DEFAULT_BATCH_OPTIONS: Readonly<Required<BatchOptions>> = Object.freeze({
  maxRecords: 1000,
  maxBytes: 1024 * 1024,
});

function positiveInteger(field: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw new InvalidOptionError(field, `an integer from 1 to ${max}`, value);
  }
  return value as number;
}

/** Merges over the defaults and validates everything before any thread starts. */
export function resolvePipelineOptions(options: PipelineOptions = {}): ResolvedPipelineOptions {
  if (options === null || typeof options !== 'object')
    throw new InvalidOptionError('options', 'an object', options);
  const queue = resolveQueueOptions(options.queue);
  const workers = { ...DEFAULT_WORKER_OPTIONS, ...stripUndefined(options.workers ?? {}) };
  if (options.workers?.max === undefined && options.workers?.min !== undefined) {
    workers.max = Math.max(workers.max, options.workers.min);
  }
  positiveInteger('workers.min', workers.min, 256);
  positiveInteger('workers.max', workers.max, 256);
  if (workers.min > workers.max)
    throw new InvalidOptionError('workers.min', `at most workers.max (${workers.max})`, workers.min);
  positiveInteger('workers.concurrentBatchesPerWorker', workers.concurrentBatchesPerWorker, 64);
  positiveInteger('workers.taskTimeoutMs', workers.taskTimeoutMs);
  positiveInteger('workers.startupTimeoutMs', workers.startupTimeoutMs);
  const young = workers.maxYoungGenerationSizeMb;
  if (!Number.isInteger(young) || young < 0 || young > 1024) {
    throw new InvalidOptionError(
      'workers.maxYoungGenerationSizeMb',
      "an integer from 0 (V8's default) to 1024",
      young,
    );
  }
  const batch = { ...DEFAULT_BATCH_OPTIONS, ...stripUndefined(options.batch ?? {}) };
  positiveInteger('batch.maxRecords', batch.maxRecords, 1_000_000);
  positiveInteger('batch.maxBytes', batch.maxBytes);
  let transform: string | undefined;
  if (options.transform !== undefined) {
    transform = options.transform instanceof URL ? options.transform.href : options.transform;
    if (typeof transform !== 'string' || transform === '') {
      throw new InvalidOptionError('transform', 'a module URL or path', options.transform);
    }
  }
  const ordering = options.ordering ?? 'none';
  if (ordering !== 'none' && ordering !== 'key')
    throw new InvalidOptionError('ordering', "'none' or 'key'", ordering);
  return {
    queue,
    workers,
    batch,
    transform,
    sink: resolveSinkSpec(options.sink ?? { type: 'sqlite', path: 'sluice.db' }, 'sink'),
    deadLetter: resolveSinkSpec(
      options.deadLetter ?? { type: 'ndjson', path: 'dead-letters.ndjson' },
      'deadLetter',
    ),
    retry: resolveRetryOptions(options.retry),
    ordering,
    metrics: {
      defaultMetrics: Boolean(options.metrics?.defaultMetrics),
      enabled: options.metrics?.enabled ?? true,
    },
    log: resolveLogOptions(options.log),
  };
}
