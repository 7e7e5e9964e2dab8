import { InvalidEventError, quote } from '../errors.js';

/** An event as producers push it. */
export interface SluiceEvent {
  /** Unique id, at most 255 UTF-8 bytes; sinks deduplicate by it. Assigned (UUIDv7) when omitted. */
  id?: string;
  /** Partitioning and ordering key, at most 65 535 UTF-8 bytes. */
  key?: string;
  /** Where the event came from, at most 65 535 UTF-8 bytes. */
  source?: string;
  /** Event time, milliseconds since the Unix epoch. */
  ts?: number;
  /** Any JSON-serialisable value. */
  payload: unknown;
}

/**
 * An event as a worker reads it back out of the ring, and as a transform receives it: its id is
 * always there (assigned at push when the producer gave none).
 */
export interface DecodedEvent extends SluiceEvent {
  id: string;
}

/** One event as a sink receives it: a decoded event (or a transform's output), maybe with its JSON. */
export interface SinkRecord extends DecodedEvent {
  /**
   * The payload as JSON text, when the engine has it: the event's own bytes when no transform
   * changed it (numbers exact, byte for byte), else serialised once by the engine, which
   * dead-letters a payload that cannot be serialised before it reaches a sink. Sinks that store
   * JSON text write this rather than serialising `payload` again (see payloadJsonOf).
   */
  payloadJson?: string | undefined;
  /**
   * The routes a transform sent this output to (PipelineOptions.routes): a name, or several for
   * fan-out. Undefined: the routes' `when` rules and the default route decide.
   */
  route?: string | readonly string[] | undefined;
}

/** A record as a worker reads it out of the ring, before the payload is parsed. */
export interface RecordView {
  /**
   * The id stored in the record (for raw records, the id assigned at push; '' when readRecord was
   * asked to leave a raw record's id undecoded).
   */
  id: string;
  /** Where the stored id's UTF-8 bytes are in the ring's data area, and how many. */
  idOffset: number;
  idLength: number;
  key: string | undefined;
  source: string | undefined;
  ts: number | undefined;
  /** The record holds one serialised event (pushRaw), not an encoded payload. */
  raw: boolean;
  /**
   * The record stands in for one too large for the queue (refusedRecord): its payload says how
   * large, and holds the event's first bytes; a worker dead-letters it as `too-large`.
   */
  refused: boolean;
  /** Wall-clock milliseconds (fractional) when the record was written into the ring. */
  enqueuedAt: number;
  /** Byte range of the payload in the ring's data area. */
  payloadOffset: number;
  payloadLength: number;
}

export const MAX_ID_BYTES = 255;
export const MAX_KEY_BYTES = 0xffff;

/**
 * A lone UTF-16 surrogate has no UTF-8 form: writing it into the ring turns it into U+FFFD, so ids
 * that differ only there would collapse into one stored row. Such a string is refused instead.
 */
export function checkWellFormed(field: string, value: string): void {
  if (!value.isWellFormed()) {
    const shown = value.length > 80 ? `${quote(value.slice(0, 80))}…` : quote(value);
    throw new InvalidEventError(
      field,
      `must be well-formed UTF-16 (it holds a lone surrogate), got ${shown}`,
    );
  }
}
