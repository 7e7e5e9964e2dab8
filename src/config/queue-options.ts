import { InvalidOptionError } from '../errors.js';
import { MAX_CAPACITY_BYTES, MIN_CAPACITY_BYTES, RECORD_ALIGN } from '../queue/layout.js';

/** What a producer does when its ring has no room for a record. */
export type FullPolicy = 'block' | 'reject' | 'drop-newest' | 'drop-oldest';

export const FULL_POLICIES: readonly FullPolicy[] = ['block', 'reject', 'drop-newest', 'drop-oldest'];

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

/** Merges `options` over the defaults and validates every field; errors name the field and value. */
export function resolveQueueOptions(options: QueueOptions = {}, prefix = 'queue'): ResolvedQueueOptions {
  const merged = { ...DEFAULT_QUEUE_OPTIONS, ...stripUndefined(options) };
  const { capacityBytes, partitions, policy, rejectTimeoutMs } = merged;
  if (
    !Number.isInteger(capacityBytes) ||
    capacityBytes < MIN_CAPACITY_BYTES ||
    capacityBytes > MAX_CAPACITY_BYTES ||
    (capacityBytes & (capacityBytes - 1)) !== 0
  ) {
    throw new InvalidOptionError(
      `${prefix}.capacityBytes`,
      `a power of two from ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES}`,
      capacityBytes,
    );
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new InvalidOptionError(`${prefix}.partitions`, 'an integer from 1 to 1024', partitions);
  }
  if (!FULL_POLICIES.includes(policy)) {
    throw new InvalidOptionError(`${prefix}.policy`, `one of ${FULL_POLICIES.join(', ')}`, policy);
  }
  if (typeof rejectTimeoutMs !== 'number' || !(rejectTimeoutMs >= 0)) {
    throw new InvalidOptionError(
      `${prefix}.rejectTimeoutMs`,
      'a number of milliseconds ≥ 0',
      rejectTimeoutMs,
    );
  }
  const maxRecordBytes = options.maxRecordBytes ?? Math.min(DEFAULT_MAX_RECORD_BYTES, capacityBytes / 4);
  if (
    !Number.isInteger(maxRecordBytes) ||
    maxRecordBytes < 64 ||
    maxRecordBytes > capacityBytes / 4 ||
    maxRecordBytes % RECORD_ALIGN !== 0
  ) {
    throw new InvalidOptionError(
      `${prefix}.maxRecordBytes`,
      `a multiple of ${RECORD_ALIGN} from 64 to capacityBytes / 4 (${capacityBytes / 4})`,
      maxRecordBytes,
    );
  }
  return { capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes };
}

/** Drops keys whose value is undefined, so they do not override defaults. */
export function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
