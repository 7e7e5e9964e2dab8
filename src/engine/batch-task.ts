import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import type { DeadLetterReason } from '../delivery/dead-letter.js';
import type { QueueHandle } from '../queue/event-queue.js';

/** What every worker receives once, as workerData. */
export interface WorkerSetup {
  queue: QueueHandle;
  options: Pick<
    ResolvedPipelineOptions,
    'transform' | 'sink' | 'deadLetter' | 'retry' | 'ordering' | 'log' | 'metrics'
  >;
  /** BroadcastChannel on which the pipeline asks workers to close their sinks. */
  closeChannel: string;
  /** The pipeline's MetricsBlock buffer: counters workers add to once per batch. */
  metrics: SharedArrayBuffer;
  /** WriterLock buffers for the sink and the dead-letter sink (single-writer sinks use them). */
  writerLocks: [SharedArrayBuffer, SharedArrayBuffer];
}

/** One unit of work: a claimed range of one partition's ring. Small: no event is cloned. */
export interface BatchTask {
  kind: 'deliver' | 'dead-letter' | 'ping';
  partition: number;
  start: number;
  end: number;
  records: number;
  /** With kind 'dead-letter': why, and the last error. */
  reason?: DeadLetterReason;
  error?: string;
  attempts?: number;
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
  records: number;
  written: number;
  filtered: number;
  deadLettered: Partial<Record<DeadLetterReason, number>>;
  retries: number;
  retryableErrors: number;
  permanentErrors: number;
  writeMs: number;
  /** Push → sink acknowledgement of the records delivered, ms. */
  latencySumMs: number;
  latencyMaxMs: number;
  threadId: number;
}
