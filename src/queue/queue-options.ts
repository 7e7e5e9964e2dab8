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
  /**
   * `memory`: an accepted event lives in the ring until a sink acknowledges it (a crash loses what
   * the ring held). `disk`: every event is written to a log in `path` before it enters the ring,
   * and a push resolves only once it is durable as `fsync` says; a pipeline started again on the
   * same `path` replays, before anything new, what was accepted and never acknowledged. The log
   * may hold far more than the ring (`maxDiskBytes`): the ring is the window workers read from,
   * fed from the log as it has room; past `maxDiskBytes` the full `policy` applies to pushes
   * (`block`, `reject` or `drop-newest`). One partition; pushes from the main thread and from
   * producer threads alike.
   * @default 'memory'
   */
  durability?: 'memory' | 'disk';
  /** The log's directory, with `durability: 'disk'` (one process at a time: a lock file). */
  path?: string;
  /**
   * With `durability: 'disk'`: `group` — a push resolves once fsynced, pushes waiting meanwhile
   * sharing one fsync (survives power loss); `interval` — once written, fsynced every
   * `fsyncIntervalMs` (survives a process crash; a power loss may take the last interval);
   * `never` — once written, the OS flushes (survives a process crash).
   * @default 'group'
   */
  fsync?: 'group' | 'interval' | 'never';
  /** @default 1000 */
  fsyncIntervalMs?: number;
  /**
   * With `durability: 'disk'`: bytes of backlog the log may hold beyond what is in the ring — events
   * accepted and not yet taken into the ring (a sink down for an hour). Past it, the full `policy`
   * applies to pushes. Disk use is at most this, plus what is in the ring, plus a segment or two
   * of acknowledged records waiting for deletion.
   * @default 1 GiB
   */
  maxDiskBytes?: number;
}

export type ResolvedQueueOptions = Required<Omit<QueueOptions, 'path'>> & { path: string | undefined };

export const DEFAULT_QUEUE_OPTIONS: Readonly<Omit<ResolvedQueueOptions, 'maxRecordBytes'>> = Object.freeze({
  capacityBytes: 16 * 1024 * 1024,
  partitions: 1,
  policy: 'block',
  rejectTimeoutMs: 0,
  durability: 'memory',
  path: undefined,
  fsync: 'group',
  fsyncIntervalMs: 1000,
  maxDiskBytes: 1024 * 1024 * 1024,
});

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/**
 * A batch's defaults (BatchOptions, src/config/batch-options.ts): a batch is a range of the ring,
 * and workers size their batch buffers by it (BufferPool).
 */
export const DEFAULT_MAX_RECORDS = 5000;
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
