// The main entry: the pipeline, its options, its errors and the contracts a sink, a source or a
// transform implements. The ring's own primitives are the `sluice/queue` entry (src/queue/index.ts).
export type { DecodedEvent, SinkRecord, SluiceEvent } from './codec/event.js';
export { uuidv7 } from './codec/uuid-v7.js';
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
export { resolveQueueOptions } from './config/queue-options-schema.js';
export { resolveRetryOptions } from './config/retry-options-schema.js';
export type { DeadLetter, DeadLetterReason } from './delivery/dead-letter.js';
export type { ResolvedRetryOptions, RetryOptions } from './delivery/retry-options.js';
export { DEFAULT_RETRY_OPTIONS } from './delivery/retry-options.js';
export {
  type CloseOptions,
  connectProducer,
  createPipeline,
  type Pipeline,
  type PipelineStats,
  type PipelineSummary,
  type ThreadProducer,
} from './engine/pipeline.js';
export {
  ClosedError,
  DiskQueueFailedError,
  InvalidEventError,
  InvalidOptionError,
  QueueFullError,
  QueueLockedError,
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
export type { FullPolicy, QueueOptions, ResolvedQueueOptions } from './queue/queue-options.js';
export { DEFAULT_MAX_RECORD_BYTES, DEFAULT_QUEUE_OPTIONS } from './queue/queue-options.js';
export type { SinkContext, SinkFactory } from './sinks/create-sink.js';
export type { Sink, WriteOutcome } from './sinks/sink.js';
export type { SinkSpec } from './sinks/sink-spec.js';
export type { Source, SourceHealth, SourceTarget } from './sources/source.js';
export type {
  TransformContext,
  TransformedEvent,
  TransformModule,
  TransformOutput,
} from './transforms/transform.js';
