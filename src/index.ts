// The main entry: the pipeline, its options, its errors and the contracts a sink, a source or a
// transform implements. The ring's own primitives are the `sluice/queue` entry (src/queue/index.ts).
export type { DecodedEvent, SluiceEvent } from './codec/event.js';
export {
  type BatchOptions,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_RECORDS,
  DEFAULT_WORKER_OPTIONS,
  type PipelineOptions,
  type ResolvedPipelineOptions,
  resolvePipelineOptions,
  type WorkerOptions,
} from './config/pipeline-options.js';
export {
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_QUEUE_OPTIONS,
  type FullPolicy,
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveQueueOptions,
} from './config/queue-options.js';
export {
  DEFAULT_RETRY_OPTIONS,
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from './config/retry-options.js';
export type { DeadLetter, DeadLetterReason } from './delivery/dead-letter.js';
export {
  type CloseOptions,
  connectProducer,
  createPipeline,
  type Pipeline,
  type PipelineStats,
  type PipelineSummary,
} from './engine/pipeline.js';
export {
  ClosedError,
  InvalidEventError,
  InvalidOptionError,
  QueueFullError,
  RecordTooLargeError,
  ShutdownTimeoutError,
  SinkError,
  type SinkErrorOptions,
  SluiceError,
  type SluiceErrorCode,
  SourceError,
  StartupTimeoutError,
  TransformError,
} from './errors.js';
export type { LiveStats } from './metrics/live-stats.js';
export {
  createMetricsServer,
  type MetricsServer,
  type MetricsServerOptions,
  type ObservablePipeline,
} from './metrics/metrics-server.js';
export type { PipelineMetricsOptions } from './metrics/pipeline-metrics.js';
export type { SinkContext, SinkFactory } from './sinks/create-sink.js';
export type { Sink, SinkRecord, WriteOutcome } from './sinks/sink.js';
export type { SinkSpec } from './sinks/sink-spec.js';
export type { Source, SourceTarget } from './sources/source.js';
export type {
  TransformContext,
  TransformedEvent,
  TransformModule,
  TransformOutput,
} from './transforms/transform.js';
