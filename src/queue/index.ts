// The `sluice/queue` entry: the shared-memory ring on its own, for code that produces into or
// consumes from it directly (a pipeline does both for you; see the main entry). An entry, like
// src/index.ts, re-exports from every layer of the library (resolveQueueOptions from config).
export type { RecordView } from '../codec/event.js';
export { resolveQueueOptions } from '../config/queue-options-schema.js';
export { EventQueue, type QueueHandle, type QueueStats } from './event-queue.js';
export { AsyncQueueProducer, QueueProducer, type RawRecord } from './producer.js';
export {
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_QUEUE_OPTIONS,
  type FullPolicy,
  type QueueOptions,
  type ResolvedQueueOptions,
} from './queue-options.js';
export { payloadText, readRecord } from './record-codec.js';
export type { LineBatch } from './record-run.js';
export { Ring, type RingHandle } from './ring-buffer.js';
export { RingConsumer, type RingRange } from './ring-consumer.js';
export { forEachRecord } from './ring-reader.js';
