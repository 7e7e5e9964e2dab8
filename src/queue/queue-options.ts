// The queue's options as the queue reads them. Their schema and resolveQueueOptions, which check
// them on the main thread, are in src/config/queue-options-schema.ts: worker threads never load zod.

/** What a producer does when its ring has no room for a record. */
export type FullPolicy = 'block' | 'reject' | 'drop-newest' | 'drop-oldest';

export const FULL_POLICIES = [
  'block',
  'reject',
  'drop-newest',
  'drop-oldest',
] as const satisfies readonly FullPolicy[];

export interface QueueOptions {
  /**
   * Bytes of record space per partition ring: a power of two from 4 KiB to 1 GiB. The ring bounds
   * everything in flight — queued, being transformed, being written, being retried.
   * @default 16 MiB
   */
  capacityBytes?: number;
  /**
   * Number of rings. An event's key picks its ring by a stable hash; key-less events spread across
   * rings round-robin per producer.
   * @default 1
   */
  partitions?: number;
  /**
   * When a ring is full: `block` waits for room (main thread: an awaited promise; producer threads:
   * `Atomics.wait`); `reject` throws QueueFullError (SLUICE_QUEUE_FULL) after `rejectTimeoutMs`;
   * `drop-newest` discards the record being pushed; `drop-oldest` discards the oldest records no
   * worker has taken yet, and the record being pushed only when there are none. Drops are counted.
   * @default 'block'
   */
  policy?: FullPolicy;
  /**
   * With `policy: 'reject'`, how long to wait for room before throwing, in milliseconds.
   * @default 0
   */
  rejectTimeoutMs?: number;
  /**
   * Largest record, header included, in bytes; at most a quarter of `capacityBytes`.
   * @default the smaller of 1 MiB and capacityBytes / 4
   */
  maxRecordBytes?: number;
}

export type ResolvedQueueOptions = Required<QueueOptions>;

export const DEFAULT_QUEUE_OPTIONS: Readonly<Omit<ResolvedQueueOptions, 'maxRecordBytes'>> = Object.freeze({
  capacityBytes: 16 * 1024 * 1024,
  partitions: 1,
  policy: 'block',
  rejectTimeoutMs: 0,
});

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
