import type { DeadLetterReason } from '../delivery/dead-letter.js';
import { InvalidEventError } from '../errors.js';
import { type DecodedEvent, MAX_ID_BYTES, MAX_KEY_BYTES, type RecordView } from './event.js';
import { nestsDeeperThan } from './json-depth.js';
import { checkWellFormed } from './record-codec.js';

/** Nesting depth of arrays and objects an event's JSON may have. @see nestsDeeperThan */
export const DEFAULT_MAX_DEPTH = 1000;

/** What decodeEvent needs of a record besides its text. */
export type RecordFields = Pick<RecordView, 'id' | 'key' | 'source' | 'ts' | 'raw'>;

/** A serialised event with nothing known of it but its text (the bench's baselines read lines so). */
export const LINE_FIELDS: RecordFields = Object.freeze({
  id: '',
  key: undefined,
  source: undefined,
  ts: undefined,
  raw: true,
});

/** Why a record could not become an event: the dead-letter reason, and the error to record. */
export class DecodeFailure extends Error {
  readonly reason: Extract<DeadLetterReason, 'invalid-json' | 'invalid-event' | 'too-deep'>;
  /** The line's own event time, when it was read before the failure: kept in the dead letter. */
  readonly ts: number | undefined;

  constructor(reason: DecodeFailure['reason'], message: string, options?: { cause?: unknown; ts?: number }) {
    super(message, options);
    this.name = 'DecodeFailure';
    this.reason = reason;
    this.ts = options?.ts;
  }
}

/**
 * A record's text becomes the event it was. An encoded record's text is the payload; a raw record
 * (pushRaw) is one serialised event, parsed here, off the main thread: the parsed line is the
 * payload, and its own `id`, `key`, `source` and `ts` fields are used when present.
 *
 * A line's `id` must be a non-empty, well-formed string of at most 255 UTF-8 bytes — the same rule
 * as `push()` — or a safe integer, taken as its decimal string; anything else makes the line an
 * `invalid-event`, never silently another id. `key` and `source` are used when they are strings
 * (well-formed, at most 65 535 UTF-8 bytes), `ts` when it is a finite number; other values of
 * those stay in the payload only. `null` counts as absent.
 */
export function decodeEvent(record: RecordFields, text: string, maxDepth: number): DecodedEvent {
  if (nestsDeeperThan(text, maxDepth)) {
    throw new DecodeFailure('too-deep', `JSON nests arrays or objects more than ${maxDepth} levels deep`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new DecodeFailure(record.raw ? 'invalid-json' : 'invalid-event', (error as Error).message, {
      cause: error,
    });
  }
  const event: DecodedEvent = {
    id: record.id,
    key: record.key,
    source: record.source,
    ts: record.ts,
    payload,
  };
  if (!record.raw || payload === null || typeof payload !== 'object' || Array.isArray(payload)) return event;
  const line = payload as Record<string, unknown>;
  if (typeof line.ts === 'number' && Number.isFinite(line.ts)) event.ts = line.ts;
  try {
    if (line.id !== undefined && line.id !== null) event.id = lineId(line.id);
    if (typeof line.key === 'string' && record.key === undefined) event.key = lineString('key', line.key);
    if (typeof line.source === 'string') event.source = lineString('source', line.source);
  } catch (error) {
    throw new DecodeFailure('invalid-event', (error as Error).message, { cause: error, ts: event.ts });
  }
  return event;
}

function lineId(id: unknown): string {
  if (typeof id === 'number') {
    if (Number.isSafeInteger(id)) return String(id);
    throw new InvalidEventError(
      'id',
      `must be a string, or an integer from -(2^53 - 1) to 2^53 - 1 (beyond that JSON numbers lose digits; send it as a string), got ${id}`,
    );
  }
  if (typeof id !== 'string') throw new InvalidEventError('id', `must be a string, got ${typeof id}`);
  if (id.length === 0) throw new InvalidEventError('id', 'must not be empty');
  return lineString('id', id);
}

function lineString(field: 'id' | 'key' | 'source', value: string): string {
  checkWellFormed(field, value);
  const max = field === 'id' ? MAX_ID_BYTES : MAX_KEY_BYTES;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short strings need no count.
  if (value.length * 3 > max) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > max) throw new InvalidEventError(field, `must be at most ${max} UTF-8 bytes, got ${bytes}`);
  }
  return value;
}
