import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_RECORDS } from '../queue/queue-options.js';
import { isResolved, markResolved } from '../resolved-marker.js';
import { integer, positiveInteger, strictObject } from './option-schema.js';

export interface BatchOptions {
  /**
   * Records per batch at most. Batches are cut from what is waiting when a worker has room, so
   * they are small at low load; under load they fill up, and a large batch spreads a sink's fixed
   * cost per write — a round trip, a transaction's commit and its fsync — over more events.
   * @default 5000
   */
  maxRecords?: number;
  /**
   * Bytes per batch at most (past the first record).
   * @default the smaller of 1 MiB and a sixteenth of `queue.capacityBytes`: a batch is released
   * only after every earlier one, so a long batch holding a large share of the ring would stall
   * the producers behind it
   */
  maxBytes?: number;
}

export type ResolvedBatchOptions = Required<BatchOptions>;

export { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_RECORDS } from '../queue/queue-options.js';

/** Batch options as the schema resolves them: maxBytes waits for the queue's capacity. */
export type BatchGroup = { maxRecords: number; maxBytes: number | undefined };

/** maxBytes when not given, for a ring of `capacityBytes`. */
export function defaultMaxBatchBytes(capacityBytes: number): number {
  return Math.min(DEFAULT_MAX_BATCH_BYTES, capacityBytes / 16);
}

/** Batch options, validated; maxBytes's default is filled in with the queue's (pipelineOptionsOf). */
export const batchOptionsSchema = strictObject({
  maxRecords: integer(1, 1_000_000).default(DEFAULT_MAX_RECORDS),
  maxBytes: positiveInteger('a positive integer of bytes').optional(),
}).transform((batch): BatchGroup => ({ maxRecords: batch.maxRecords, maxBytes: batch.maxBytes }));

/** The batch options complete, given the queue's capacity. */
export function resolvedBatch(
  batch: BatchGroup | ResolvedBatchOptions,
  capacityBytes: number,
): ResolvedBatchOptions {
  if (isResolved(batch, 'batch')) return batch as ResolvedBatchOptions;
  return markResolved('batch', {
    maxRecords: batch.maxRecords,
    maxBytes: batch.maxBytes ?? defaultMaxBatchBytes(capacityBytes),
  });
}
