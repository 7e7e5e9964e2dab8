/**
 * The text of a stand-in record: what is left of an event too large for the queue (larger than
 * queue.maxRecordBytes), pushed in its place so that a worker dead-letters it as `too-large` — its
 * size, the limit, and its first bytes — rather than a source dropping it with a log line or, for a
 * broker, leaving the message unacknowledged for ever. Written by RefusedRecord (src/queue), read
 * back by decodeFields/decodeParsed.
 */

/** Bytes of a refused event kept in its dead letter, at most. */
export const REFUSED_HEAD_BYTES = 1024;

/** What a stand-in says: the event's size, the limit it passed (its option's name), its first bytes. */
export interface StandIn {
  recordBytes: number;
  limit: number;
  /** The option whose limit it is, e.g. `queue.maxRecordBytes` (no spaces). */
  limitName: string;
  head: string;
}

/** A stand-in's text: `<recordBytes> <limit> <limitName> <head>`. */
export function standInText({ recordBytes, limit, limitName, head }: StandIn): string {
  return `${recordBytes} ${limit} ${limitName} ${head}`;
}

/** A stand-in's text read back. */
export function readStandIn(text: string): StandIn {
  const first = text.indexOf(' ');
  const second = text.indexOf(' ', first + 1);
  const third = text.indexOf(' ', second + 1);
  return {
    recordBytes: Number(text.slice(0, first)),
    limit: Number(text.slice(first + 1, second)),
    limitName: text.slice(second + 1, third),
    head: text.slice(third + 1),
  };
}

/**
 * An event's first bytes (at most `maxBytes`) as text; a character cut at the end is dropped, and
 * bytes that are not UTF-8 read as U+FFFD.
 */
export function headOf(data: Uint8Array | string, maxBytes: number): string {
  const bytes = typeof data === 'string' ? Buffer.from(data.slice(0, maxBytes), 'utf8') : data;
  let end = Math.min(bytes.length, maxBytes);
  // Back off a multi-byte character the cut went through: its continuation bytes are 10xxxxxx.
  if (end < bytes.length) while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8');
}
