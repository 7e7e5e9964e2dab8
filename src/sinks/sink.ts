import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';

/**
 * Per-event failures of a write that otherwise succeeded. Only the failed records are retried.
 * Under `ordering: 'key'` (the sink's context says so) a sink must not store a record that follows
 * a failed record of the same key in the batch — report it failed too — or the retry would land
 * after it. The built-in sinks never report partial failures: a batch is stored whole or not at all.
 */
export interface WriteOutcome {
  failed: { index: number; error: unknown }[];
}

/**
 * The sink contract. Sinks only open, write and close; retries, backoff, dead-lettering and
 * acknowledgement are done once for every sink by `src/delivery/`.
 */
export interface Sink {
  /** Whether writing the same record twice stores it once (dedup by id). */
  readonly idempotent: boolean;
  /** Connects or opens files; called once per worker before the first write. */
  open(): Promise<void>;
  /**
   * Writes a batch. Resolves only once the records are durable as far as the sink promises.
   * Throws (preferably a SinkError saying whether to retry) if the whole batch failed; resolves
   * with a WriteOutcome listing the indexes of records that failed on their own.
   */
  write(records: readonly SinkRecord[]): Promise<WriteOutcome | undefined>;
  /** Flushes and releases connections and files; the sink is not used afterwards. */
  close(): Promise<void>;
}

/** Whether a thrown value is worth retrying: SinkErrors say so; anything else is assumed transient. */
export function isRetryable(error: unknown): boolean {
  if (error && typeof error === 'object' && 'retryable' in error)
    return Boolean((error as SinkError).retryable);
  return true;
}

/** Whether a failed write of several records is worth splitting to find the records at fault. */
export function isPerRecord(error: unknown): boolean {
  return Boolean(error && typeof error === 'object' && (error as { perRecord?: unknown }).perRecord === true);
}

/**
 * A record's payload as JSON text: the engine's `payloadJson`, or the payload serialised here for
 * records built by hand. A payload that cannot be serialised (nested too deep, a BigInt, a cycle)
 * fails its record alone: a permanent, per-record SinkError.
 */
export function payloadJsonOf(record: SinkRecord): string {
  if (record.payloadJson !== undefined) return record.payloadJson;
  let json: string | undefined;
  try {
    json = JSON.stringify(record.payload);
  } catch (error) {
    throw new SinkError(
      `record ${record.id}: payload cannot be written as JSON: ${(error as Error).message}`,
      {
        retryable: false,
        perRecord: true,
        cause: error,
      },
    );
  }
  if (json === undefined) {
    throw new SinkError(`record ${record.id}: payload cannot be written as JSON (${typeof record.payload})`, {
      retryable: false,
      perRecord: true,
    });
  }
  return json;
}

/** A whole record as one JSON object `{id, key, source, ts, payload}`, the payload as payloadJsonOf. */
export function recordJson(record: SinkRecord): string {
  let json = `{"id":${JSON.stringify(record.id)}`;
  if (record.key !== undefined) json += `,"key":${JSON.stringify(record.key)}`;
  if (record.source !== undefined) json += `,"source":${JSON.stringify(record.source)}`;
  if (record.ts !== undefined) json += `,"ts":${JSON.stringify(record.ts)}`;
  return `${json},"payload":${payloadJsonOf(record)}}`;
}

/** The retry-after a sink error asked for, if any. */
export function retryAfterOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'retryAfterMs' in error) {
    const value = (error as SinkError).retryAfterMs;
    return typeof value === 'number' && value >= 0 ? value : undefined;
  }
  return undefined;
}
