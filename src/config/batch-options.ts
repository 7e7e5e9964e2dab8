import { integer, positiveInteger, strictObject } from './option-schema.js';
import { markResolved } from './resolved-marker.js';

export interface BatchOptions {
  /** Records per batch at most. @default 1000 */
  maxRecords?: number;
  /** Bytes per batch at most (past the first record). @default 1 MiB */
  maxBytes?: number;
}

export type ResolvedBatchOptions = Required<BatchOptions>;

export const DEFAULT_BATCH_OPTIONS: Readonly<ResolvedBatchOptions> = Object.freeze({
  maxRecords: 1000,
  maxBytes: 1024 * 1024,
});

/** Batch options, validated and with every default filled in. */
export const batchOptionsSchema = strictObject({
  maxRecords: integer(1, 1_000_000).default(DEFAULT_BATCH_OPTIONS.maxRecords),
  maxBytes: positiveInteger('a positive integer of bytes').default(DEFAULT_BATCH_OPTIONS.maxBytes),
}).transform((batch): ResolvedBatchOptions => markResolved('batch', batch));
