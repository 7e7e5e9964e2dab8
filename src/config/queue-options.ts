import { z } from 'zod';
import { MAX_CAPACITY_BYTES, MIN_CAPACITY_BYTES, RECORD_ALIGN } from '../queue/layout.js';
import { isRingCapacity } from '../queue/ring-buffer.js';
import { acrossFields, integer, must, numberFrom, oneOf, orInfinity, strictObject } from './option-schema.js';
import { resolveOptions } from './resolve-options.js';
import { markResolved } from './resolved-marker.js';

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

const CAPACITY = must(`a power of two from ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES}`);
const NON_NEGATIVE_MS = 'a number of milliseconds ≥ 0';
const d = DEFAULT_QUEUE_OPTIONS;

const fields = strictObject({
  capacityBytes: z.number(CAPACITY).refine(isRingCapacity, CAPACITY).default(d.capacityBytes),
  partitions: integer(1, 1024).default(d.partitions),
  policy: oneOf(FULL_POLICIES, `one of ${FULL_POLICIES.join(', ')}`).default(d.policy),
  rejectTimeoutMs: orInfinity(numberFrom(0, Number.MAX_VALUE, NON_NEGATIVE_MS), NON_NEGATIVE_MS).default(
    d.rejectTimeoutMs,
  ),
  // Checked with capacityBytes below, which bounds it.
  maxRecordBytes: z.unknown().optional(),
});

/** Queue options, validated and with every default filled in. */
export const queueOptionsSchema = acrossFields(fields, (given, report) => {
  const max = given.maxRecordBytes;
  if (max === undefined) return;
  const capacity = given.capacityBytes ?? d.capacityBytes;
  const limit = isRingCapacity(capacity) ? capacity / 4 : undefined;
  if (
    typeof max !== 'number' ||
    !Number.isInteger(max) ||
    max < 64 ||
    max % RECORD_ALIGN !== 0 ||
    (limit !== undefined && max > limit)
  ) {
    const bound = limit === undefined ? '' : ` (${limit})`;
    report('maxRecordBytes', `a multiple of ${RECORD_ALIGN} from 64 to capacityBytes / 4${bound}`);
  }
}).transform(
  ({ capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes }): ResolvedQueueOptions =>
    markResolved('queue', {
      capacityBytes,
      partitions,
      policy,
      rejectTimeoutMs,
      maxRecordBytes:
        (maxRecordBytes as number | undefined) ?? Math.min(DEFAULT_MAX_RECORD_BYTES, capacityBytes / 4),
    }),
);

/**
 * Merges `options` over the defaults and validates every field, reporting every problem at once;
 * errors name the field under `prefix` and quote the value.
 */
export function resolveQueueOptions(options: QueueOptions = {}, prefix = 'queue'): ResolvedQueueOptions {
  return resolveOptions(queueOptionsSchema, options, 'queue', prefix);
}
