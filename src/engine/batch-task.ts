import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import type { DeadLetterReason } from '../delivery/dead-letter.js';
import type { RetryState } from '../delivery/deliver-batch.js';
import type { QueueHandle } from '../queue/event-queue.js';

/** What every worker receives once, as workerData. */
export interface WorkerSetup {
  queue: QueueHandle;
  options: Pick<
    ResolvedPipelineOptions,
    | 'transform'
    | 'routes'
    | 'defaultRoute'
    | 'deadLetter'
    | 'retry'
    | 'ordering'
    | 'log'
    | 'metrics'
    | 'maxNestingDepth'
  >;
  /** BroadcastChannel on which the pipeline asks workers to close their sinks. */
  closeChannel: string;
  /** The pipeline's MetricsBlock buffer: counters workers add to once per batch. */
  metrics: SharedArrayBuffer;
  /**
   * WriterLock buffers (single-writer sinks use them): the pipeline's dead-letter sink's, and each
   * route's sink's and own dead-letter sink's, in the order of `options.routes`.
   */
  writerLocks: {
    deadLetter: SharedArrayBuffer;
    routes: { sink: SharedArrayBuffer; deadLetter: SharedArrayBuffer }[];
  };
  /** The TaskClock's buffer: when each task started, for its timeout. */
  taskStarts: SharedArrayBuffer;
}

/**
 * One unit of work, told apart by `kind`: `deliver` a claimed range of one partition's ring to the
 * sink; `dead-letter` its records straight to the dead-letter sink (a poison event); `ping` only
 * load the transform and open the sinks (start-up). Small: no event is cloned.
 */
export type BatchTask = DeliverTask | DeadLetterTask | PingTask;

export interface DeliverTask extends TaskRange {
  kind: 'deliver';
}

export interface DeadLetterTask extends TaskRange {
  kind: 'dead-letter';
  /** Why the records are dead-lettered, the last error, and how many tasks failed on them. */
  reason: DeadLetterReason;
  error: string;
  attempts: number;
}

/** An empty range (partition 0, start = end = 0): nothing is read from the ring. */
export interface PingTask extends TaskRange {
  kind: 'ping';
}

/** What every task carries: its range of a ring, and how to run it. */
export interface TaskRange {
  partition: number;
  start: number;
  end: number;
  records: number;
  /** Where the sinks' retries of this range stood when an earlier dispatch handed it back. */
  retry?: RangeRetry;
  /**
   * How long after the task starts a sink still failing retryably stops being waited for inside
   * it, ms: the worker hands the range back (ok: false, `retry`) and the dispatcher holds it in the
   * ring — well before workers.taskTimeoutMs would take the wait for a hung worker.
   */
  yieldAfterMs?: number;
  /** The task's slot in the pipeline's TaskClock: the worker marks there when it starts. */
  slot?: number;
  /** W3C trace context of the dispatch span, when tracing is on (see src/metrics/tracing.ts). */
  trace?: Record<string, string>;
}

export interface BatchResult {
  /**
   * false: the batch must stay in the ring and be dispatched again later (the sinks could not be
   * opened, or the dead-letter sink failed). Nothing of it counts as acknowledged.
   */
  ok: boolean;
  error?: string;
  /** With ok false: the sinks' retries so far, to be carried into the next dispatch of the range. */
  retry?: RangeRetry;
  /** With ok false: wait this long before dispatching the range again, ms. */
  retryInMs?: number;
  /**
   * With ok false: the failure belongs to some records of the range, not to a sink that is down
   * (the dead-letter sink refused a letter outright). Split, the rest of the range goes through.
   */
  isolate?: boolean;
  records: number;
  written: number;
  filtered: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  retries: number;
  retryableErrors: number;
  permanentErrors: number;
  writeMs: number;
  /** Over the batch's records: worker start − enqueue time, summed, ms. */
  queueWaitMsSum: number;
  /** The batch's time before its sink writes: decode, transform, routing, ms. */
  decodeTransformMs: number;
  /** Push → sink acknowledgement of the records delivered, ms. */
  latencySumMs: number;
  latencyMaxMs: number;
  /**
   * Records each route's sink acknowledged, in the order of the pipeline's routes (`written`
   * counts each event once, however many routes wrote it).
   */
  writtenByRoute: number[];
  threadId: number;
}

/** What a route did with its share of a range: carried while the range waits for other routes. */
export interface RouteDone {
  written: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  /** The ids of the records it dead-lettered. */
  refused: string[];
}

/**
 * Where a range's delivery stood when a worker handed it back: each route still failing, its
 * retries so far (carried into deliverBatch on the next dispatch); each route that wrote and
 * dead-lettered its share already, what it did — not written again, counted once the range is
 * acknowledged. `attempts` and `firstFailureAt` are the furthest of the failing routes'. A range
 * split in halves (a dead-letter sink refused a letter outright) starts its halves afresh: the
 * counts belong to the whole range, so the finished routes write the halves again (at least once).
 */
export interface RangeRetry extends RetryState {
  routes: Record<string, RetryState>;
  done: Record<string, RouteDone>;
}
