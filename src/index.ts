export type { DecodedEvent, RecordView, SluiceEvent } from './codec/event.js';
export { payloadText, readRecord } from './codec/record-codec.js';
export { uuidv7 } from './codec/uuid-v7.js';
export {
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_QUEUE_OPTIONS,
  type FullPolicy,
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveQueueOptions,
} from './config/queue-options.js';
export {
  ClosedError,
  InvalidEventError,
  InvalidOptionError,
  QueueFullError,
  RecordTooLargeError,
  SluiceError,
  type SluiceErrorCode,
} from './errors.js';
export { EventQueue, type QueueHandle, type QueueStats } from './queue/event-queue.js';
export { AsyncQueueProducer, QueueProducer } from './queue/producer.js';
export { Ring, type RingHandle } from './queue/ring-buffer.js';
export { RingConsumer, type RingRange } from './queue/ring-consumer.js';
export { forEachRecord } from './queue/ring-reader.js';
