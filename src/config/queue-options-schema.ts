import { z } from 'zod';
import { MAX_CAPACITY_BYTES, MIN_CAPACITY_BYTES, RECORD_ALIGN } from '../queue/layout.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  DEFAULT_QUEUE_OPTIONS,
  FULL_POLICIES,
  type QueueOptions,
  type ResolvedQueueOptions,
} from '../queue/queue-options.js';
import { isRingCapacity } from '../queue/ring-buffer.js';
import { markResolved } from '../resolved-marker.js';
import { acrossFields, integer, must, numberFrom, oneOf, orInfinity, strictObject } from './option-schema.js';
import { resolveOptions } from './resolve-options.js';

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
  durability: oneOf(['memory', 'disk'], "'memory' or 'disk'").default(d.durability),
  path: z.string(must('a directory path')).min(1, must('a directory path')).optional(),
  fsync: oneOf(['group', 'interval', 'never'], "'group', 'interval' or 'never'").default(d.fsync),
  fsyncIntervalMs: integer(1, 3_600_000, 'an integer of milliseconds from 1 to 3600000').default(
    d.fsyncIntervalMs,
  ),
  maxDiskBytes: integer(64 * 1024, Number.MAX_SAFE_INTEGER, 'an integer number of bytes ≥ 65536').default(
    d.maxDiskBytes,
  ),
});

/** Queue options, validated and with every default filled in. */
export const queueOptionsSchema = acrossFields(fields, (given, report) => {
  if (given.durability === 'disk') {
    // The log's order is the ring's: one ring. What the log accepted is never dropped.
    if (given.path === undefined) report('path', 'given with durability: disk');
    if ((given.partitions ?? d.partitions) !== 1) report('partitions', '1 with durability: disk');
    if (given.policy === 'drop-oldest')
      report(
        'policy',
        "'block', 'reject' or 'drop-newest' with durability: disk (what the log accepted is never dropped)",
      );
  }
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
  ({
    capacityBytes,
    partitions,
    policy,
    rejectTimeoutMs,
    maxRecordBytes,
    durability,
    path,
    fsync,
    fsyncIntervalMs,
    maxDiskBytes,
  }): ResolvedQueueOptions =>
    markResolved('queue', {
      capacityBytes,
      partitions,
      policy,
      rejectTimeoutMs,
      durability,
      path,
      fsync,
      fsyncIntervalMs,
      maxDiskBytes,
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
