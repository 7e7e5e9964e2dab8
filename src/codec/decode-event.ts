import { isUtf8 } from 'node:buffer';
import { InvalidEventError } from '../errors.js';
import { checkWellFormed, type DecodedEvent, MAX_ID_BYTES, MAX_KEY_BYTES, type RecordView } from './event.js';
import { isDigit, isSpace, JsonScanner, SCAN_INVALID, SCAN_TOO_DEEP } from './json-scan.js';
import { readStandIn } from './refused-record.js';

/** Nesting depth of arrays and objects an event's JSON may have. @see JsonScanner */
export const DEFAULT_MAX_DEPTH = 1000;

/**
 * What decoding needs of a record besides its bytes. A raw record whose `id` is '' and that says
 * where its stored id is (`idOffset`, `idLength`, in the same bytes) has it decoded only when the
 * line has no `id` of its own.
 */
export type RecordFields = Pick<RecordView, 'id' | 'key' | 'source' | 'ts' | 'raw'> &
  Partial<Pick<RecordView, 'idOffset' | 'idLength' | 'refused'>>;

/** A serialised event with nothing known of it but its text (the bench's baselines read lines so). */
export const LINE_FIELDS: RecordFields = Object.freeze({
  id: '',
  key: undefined,
  source: undefined,
  ts: undefined,
  raw: true,
});

/** The dead-letter reasons decoding can give: the rest of DeadLetterReason come later in the path. */
export type DecodeFailureReason = 'invalid-json' | 'invalid-event' | 'too-deep' | 'too-large';

/** Why a record could not become an event: the dead-letter reason, and the error to record. */
export class DecodeFailure extends Error {
  readonly reason: DecodeFailureReason;
  /** The line's own event time, when it was read before the failure: kept in the dead letter. */
  readonly ts: number | undefined;
  /** The text its dead letter keeps in `event.raw`, when not the record's own. */
  readonly raw: string | undefined;

  constructor(
    reason: DecodeFailure['reason'],
    message: string,
    options?: { cause?: unknown; ts?: number; raw?: string },
  ) {
    super(message, options);
    this.name = 'DecodeFailure';
    this.reason = reason;
    this.ts = options?.ts;
    this.raw = options?.raw;
  }
}

/** A too-large record's stand-in (refused-record.ts) as the failure its dead letter says. */
function tooLargeFailure(text: string): DecodeFailure {
  const { recordBytes, limit, limitName, head } = readStandIn(text);
  return new DecodeFailure(
    'too-large',
    `${recordBytes} bytes exceed ${limitName} (${limit}); not taken into the queue, its first ${Buffer.byteLength(head)} bytes kept in event.raw`,
    { raw: head },
  );
}

/** An event's id, key, source and time, as decodeFields finds them. */
export interface EventFields {
  id: string;
  key: string | undefined;
  source: string | undefined;
  ts: number | undefined;
}

/**
 * Checks a record's JSON bytes [start, end) — valid, nested at most `maxDepth` deep — and, for a
 * raw record (one serialised event, e.g. an NDJSON line), reads its own `id`, `key`, `source` and
 * `ts`, without parsing the rest. Throws DecodeFailure with the dead-letter reason.
 *
 * A line's `id` must be a non-empty, well-formed string of at most 255 UTF-8 bytes — the same rule
 * as `push()` — or an integer, taken as its decimal digits exactly as written (`42` → `"42"`,
 * `12345678901234567890` stays whole); anything else makes the line an `invalid-event`, never
 * silently another id. `key` and `source` are used when they are strings (well-formed, at most
 * 65 535 UTF-8 bytes), `ts` when it is a finite number; other values of those stay in the payload
 * only. `null` counts as absent. A pushed object (not raw) keeps the fields it was pushed with.
 */
export function decodeFields(
  scanner: JsonScanner,
  bytes: Buffer,
  start: number,
  end: number,
  record: RecordFields,
  maxDepth: number,
): EventFields {
  if (record.refused === true) throw tooLargeFailure(bytes.toString('utf8', start, end));
  if (
    !record.raw &&
    (end - start <= maxDepth || bracketsAtMost(bytes.subarray(start, end), BRACKET_BYTES, maxDepth))
  ) {
    // Serialised by push(): valid JSON, with too few brackets to nest deeper than maxDepth.
    // Nothing to check.
    return { id: record.id, key: record.key, source: record.source, ts: record.ts };
  }
  const result = scanner.scan(bytes, start, end, maxDepth, record.raw);
  if (result === SCAN_TOO_DEEP) {
    throw new DecodeFailure('too-deep', `JSON nests arrays or objects more than ${maxDepth} levels deep`);
  }
  if (result === SCAN_INVALID) throw invalidJson(bytes, start, end, record.raw);
  const fields: EventFields = { id: record.id, key: record.key, source: record.source, ts: record.ts };
  if (!record.raw) return fields;
  if (scanner.tsStart >= 0 && isNumber(bytes, scanner.tsStart)) {
    const ts = numberValue(bytes, scanner.tsStart, scanner.tsEnd);
    if (Number.isFinite(ts)) fields.ts = ts;
  }
  try {
    const id = lineId(scanner, bytes);
    if (id !== undefined) fields.id = id;
    else if (fields.id === '' && record.idLength) {
      const from = record.idOffset!;
      fields.id = (bytes as FastBuffer).utf8Slice(from, from + record.idLength);
    }
    if (record.key === undefined && isString(bytes, scanner.keyStart)) {
      fields.key = lineString('key', bytes, scanner.keyStart, scanner.keyEnd, scanner.keyEscaped);
    }
    if (isString(bytes, scanner.sourceStart)) {
      fields.source = lineString(
        'source',
        bytes,
        scanner.sourceStart,
        scanner.sourceEnd,
        scanner.sourceEscaped,
      );
    }
  } catch (error) {
    throw new DecodeFailure('invalid-event', (error as Error).message, { cause: error, ts: fields.ts });
  }
  return fields;
}

/**
 * The event of decoded fields and a payload. Spelled out rather than `{ ...fields, payload }`: in
 * V8 11 (Node 20) a spread followed by another member takes the runtime's slow path, about 0.5 µs
 * an object — per event, more than the rest of the event's decoding.
 */
export function withPayload(fields: EventFields, payload: unknown): DecodedEvent {
  return { id: fields.id, key: fields.key, source: fields.source, ts: fields.ts, payload };
}

/**
 * A record's text becomes the event it was: decodeFields, then the payload parsed — an encoded
 * record's text is the payload, a raw record's parsed line is. For callers that hold the text as a
 * string (the bench's baselines); the engine's workers decode straight from the ring.
 */
export function decodeEvent(record: RecordFields, text: string, maxDepth: number): DecodedEvent {
  return decodeParsed(SCANNER, record, text, maxDepth);
}

/**
 * The event of a record whose payload is parsed in full anyway (a transform, or a sink, is handed
 * the object): what decodeFields and then JSON.parse of `text` give, with the same failures, but
 * for a raw record in one pass where it can. JSON.parse checks the line, and `id`, `key`, `source`
 * and `ts` are read off the object it gives instead of scanning the bytes — as long as the line
 * cannot nest deeper than `maxDepth` (nestsAtMost: it has no more brackets than that), and the
 * object says all the bytes do. An integer `id` is its digits as written
 * (`12345678901234567890`; `42` and not `42.0`), taken from the text where
 * it shows them plainly (plainIntegerId). Where the object cannot tell — such an id in a text that
 * is not plain; any other `id` that is neither a string nor null, so that decodeFields names what
 * it is; a string field holding U+FFFD, which bytes that are not UTF-8 also decode to —
 * decodeFields decides over the record's bytes, and the parsed payload is kept.
 *
 * `bytes` [start, end) is the record's UTF-8 (the ring's memory in a worker); without it, the
 * bytes are made from `text` when they are needed.
 */
export function decodeParsed(
  scanner: JsonScanner,
  record: RecordFields,
  text: string,
  maxDepth: number,
  bytes?: Buffer,
  start = 0,
  end = 0,
): DecodedEvent {
  if (record.refused === true) throw tooLargeFailure(text);
  if (!record.raw || !nestsAtMost(text, maxDepth)) {
    const fields = scanFields(scanner, record, text, maxDepth, bytes, start, end);
    return withPayload(fields, JSON.parse(text) as unknown);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    // The words decodeFields' invalidJson gives too: JSON.parse's own, of the same text.
    throw new DecodeFailure('invalid-json', (error as Error).message, { cause: error });
  }
  const fields = parsedFields(record, payload, text, bytes);
  return withPayload(fields ?? scanFields(scanner, record, text, maxDepth, bytes, start, end), payload);
}

/**
 * Whether JSON text cannot nest deeper than `maxDepth`: every level opens with `[` or `{`, so no
 * deeper than it has of those characters (those inside strings counted too: more, never fewer).
 * A text of at most `maxDepth` characters has no more; a longer one is counted with indexOf, which
 * stops past `maxDepth`. A native search for one character, it costs a fraction of the scan a
 * line would otherwise need for its depth alone: 0.5 µs for a 1.1 KB line with 61 brackets, where
 * the scan takes ~4.5 (docs/MEASUREMENTS.md).
 */
export function nestsAtMost(text: string, maxDepth: number): boolean {
  return text.length <= maxDepth || bracketsAtMost(text, BRACKET_CHARS, maxDepth);
}

/**
 * Whether `text` (a string, or UTF-8 bytes: there `[` and `{` are single bytes no other character
 * contains) holds at most `max` of the two `brackets`. Bytes are given as a view of the record
 * alone: indexOf searches to the end of what it is given. Each kind searches for its own needles
 * (a Buffer searching for a one-character string converts it at every call: ~10× slower).
 */
function bracketsAtMost<T>(
  text: { indexOf(needle: T, from?: number): number },
  brackets: readonly [T, T],
  max: number,
): boolean {
  let opened = 0;
  for (const bracket of brackets) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++opened > max) return false;
    }
  }
  return true;
}

const BRACKET_CHARS = ['[', '{'] as const;
const BRACKET_BYTES = [0x5b, 0x7b] as const;

/** decodeFields over the record's bytes, made from its text when the caller has none. */
function scanFields(
  scanner: JsonScanner,
  record: RecordFields,
  text: string,
  maxDepth: number,
  bytes: Buffer | undefined,
  start: number,
  end: number,
): EventFields {
  if (bytes !== undefined) return decodeFields(scanner, bytes, start, end, record, maxDepth);
  const made = Buffer.from(text, 'utf8');
  return decodeFields(scanner, made, 0, made.length, record, maxDepth);
}

/**
 * A raw record's fields as decodeFields would find them, read off its parsed line; undefined
 * where only its bytes can tell (see decodeParsed). Throws DecodeFailure as decodeFields does.
 */
function parsedFields(
  record: RecordFields,
  payload: unknown,
  text: string,
  bytes: Buffer | undefined,
): EventFields | undefined {
  const fields: EventFields = { id: record.id, key: record.key, source: record.source, ts: record.ts };
  let id: unknown;
  let key: unknown;
  let source: unknown;
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    // A parsed line's members are its own: JSON.parse makes even `__proto__` an own property.
    const line = payload as Record<string, unknown>;
    id = line.id;
    key = record.key === undefined ? line.key : undefined;
    source = line.source;
    const ts = line.ts;
    if (typeof ts === 'number' && Number.isFinite(ts)) fields.ts = ts;
    if (typeof id === 'number') {
      // Its digits as written, where the text shows them plainly; else the scan finds them.
      id = plainIntegerId(text);
      if (id === undefined) return undefined;
    } else if (id !== undefined && id !== null && typeof id !== 'string') return undefined;
    if (mayStandForBadBytes(id) || mayStandForBadBytes(key) || mayStandForBadBytes(source)) return undefined;
  }
  try {
    if (typeof id === 'string') {
      if (id === '') throw new InvalidEventError('id', 'must not be empty');
      fields.id = decodedString('id', id);
    } else if (fields.id === '' && record.idLength) {
      if (bytes === undefined) return undefined;
      const from = record.idOffset!;
      fields.id = (bytes as FastBuffer).utf8Slice(from, from + record.idLength);
    }
    if (typeof key === 'string') fields.key = decodedString('key', key);
    if (typeof source === 'string') fields.source = decodedString('source', source);
  } catch (error) {
    throw new DecodeFailure('invalid-event', (error as Error).message, { cause: error, ts: fields.ts });
  }
  return fields;
}

/**
 * The digits of a line's top-level `id` as written, when the parsed line's `id` is a number and the
 * text shows them plainly: no backslash anywhere (so no member name is spelled with an escape, and
 * every `"` delimits a string), and `"id"` once only — then that one is the top-level member's
 * name, the only place its value can be. Undefined when the text is not so plain, or the number
 * has a fraction or an exponent (the scan names what is wrong with it). The digits are then held
 * to the id's rules as a string id is (at most 255 of them).
 */
function plainIntegerId(text: string): string | undefined {
  if (text.includes('\\')) return undefined;
  const name = text.indexOf('"id"');
  if (name < 0 || text.includes('"id"', name + 4)) return undefined;
  let p = skipSpace(text, name + 4);
  if (text.charCodeAt(p) !== COLON) return undefined;
  p = skipSpace(text, p + 1);
  const from = p;
  if (text.charCodeAt(p) === MINUS) p++;
  while (p < text.length && isDigit(text.charCodeAt(p))) p++;
  const next = text.charCodeAt(p);
  if (next === DOT || next === LOWER_E || next === UPPER_E) return undefined;
  return text.slice(from, p);
}

/** The offset of the first character at or after p that is not JSON whitespace. */
function skipSpace(text: string, p: number): number {
  while (isSpace(text.charCodeAt(p))) p++;
  return p;
}

/** A string field holding U+FFFD: a real one, or bytes that are not UTF-8 — only the bytes tell. */
function mayStandForBadBytes(value: unknown): boolean {
  return typeof value === 'string' && value.includes('\uFFFD');
}

/** A decoded string value (escapes resolved) held to its field's rules: well-formed, then its UTF-8 size. */
function decodedString(field: 'id' | 'key' | 'source', value: string): string {
  checkWellFormed(field, value);
  const max = field === 'id' ? MAX_ID_BYTES : MAX_KEY_BYTES;
  // At most 3 UTF-8 bytes a UTF-16 unit: most values need no count.
  if (value.length * 3 > max) {
    const size = Buffer.byteLength(value, 'utf8');
    if (size > max) throw new InvalidEventError(field, `must be at most ${max} UTF-8 bytes, got ${size}`);
  }
  return value;
}

/** decodeFields over a record's text held as a string; the payload is left to the caller. */
export function decodeTextFields(record: RecordFields, text: string, maxDepth: number): EventFields {
  const bytes = Buffer.from(text, 'utf8');
  return decodeFields(SCANNER, bytes, 0, bytes.length, record, maxDepth);
}

/** The thread's scanner for decodeEvent. */
const SCANNER = new JsonScanner();

/** The error JSON.parse gives for the text: its words say where the text goes wrong. */
function invalidJson(bytes: Buffer, start: number, end: number, raw: boolean): DecodeFailure {
  let cause: unknown;
  try {
    JSON.parse(bytes.toString('utf8', start, end));
    cause = new SyntaxError('JSON the scanner refused');
  } catch (error) {
    cause = error;
  }
  return new DecodeFailure(raw ? 'invalid-json' : 'invalid-event', (cause as Error).message, { cause });
}

function isString(bytes: Buffer, start: number): boolean {
  return start >= 0 && bytes[start] === QUOTE;
}

function isNumber(bytes: Buffer, start: number): boolean {
  const c = bytes[start]!;
  return c === MINUS || (c >= ZERO && c <= NINE);
}

/**
 * The value of the JSON number [start, end), which the scanner checked — what `Number()` of its
 * text gives. An integer of at most 15 digits (a millisecond time has 13) is summed from its
 * digits: every partial sum is below 2^53, so exact, and no string is made for it, which costs
 * more than the rest of reading a line's `ts`. Any other number — a fraction, an exponent, more
 * digits — goes through `Number()`, whose rounding is the one that counts.
 */
export function numberValue(bytes: Buffer, start: number, end: number): number {
  const negative = bytes[start] === MINUS;
  const from = negative ? start + 1 : start;
  if (end - from <= MAX_EXACT_DIGITS) {
    let value = 0;
    let at = from;
    for (; at < end; at++) {
      const c = bytes[at]!;
      if (c < ZERO || c > NINE) break;
      value = value * 10 + (c - ZERO);
    }
    if (at === end) return negative ? -value : value;
  }
  return Number((bytes as FastBuffer).latin1Slice(start, end));
}

/** Digits of an integer that summing digit by digit keeps exact: 10^15 − 1 < 2^53. */
const MAX_EXACT_DIGITS = 15;

function lineId(scanner: JsonScanner, bytes: Buffer): string | undefined {
  const start = scanner.idStart;
  if (start < 0) return undefined;
  const end = scanner.idEnd;
  const c = bytes[start]!;
  if (c === QUOTE) {
    if (end - start === 2) throw new InvalidEventError('id', 'must not be empty');
    return lineString('id', bytes, start, end, scanner.idEscaped);
  }
  if (c === N) return undefined; // null: absent
  if (isNumber(bytes, start)) {
    const digits = (bytes as FastBuffer).latin1Slice(start, end);
    if (!INTEGER.test(digits)) {
      throw new InvalidEventError(
        'id',
        `must be a string or an integer (a number with a fraction or an exponent names no single id; send it as a string), got ${digits}`,
      );
    }
    if (digits.length > MAX_ID_BYTES) {
      throw new InvalidEventError('id', `must be at most ${MAX_ID_BYTES} UTF-8 bytes, got ${digits.length}`);
    }
    return digits;
  }
  throw new InvalidEventError(
    'id',
    `must be a string, got ${c === OPEN_BRACE ? 'object' : c === OPEN_BRACKET ? 'array' : 'boolean'}`,
  );
}

/** A string value [start, end), quotes included: decoded, and held to its field's rules. */
function lineString(
  field: 'id' | 'key' | 'source',
  bytes: Buffer,
  start: number,
  end: number,
  escaped: boolean,
): string {
  // Escaped, the value is what JSON.parse makes of it, held to the rules as a parsed line's is.
  if (escaped) return decodedString(field, JSON.parse(bytes.toString('utf8', start, end)) as string);
  const max = field === 'id' ? MAX_ID_BYTES : MAX_KEY_BYTES;
  let value: string;
  // Unescaped, the value is its bytes: their count is its UTF-8 size, and UTF-8 holds no surrogate.
  const size = end - start - 2;
  if (size > max) throw new InvalidEventError(field, `must be at most ${max} UTF-8 bytes, got ${size}`);
  value = (bytes as FastBuffer).utf8Slice(start + 1, end - 1);
  // Bytes that are not UTF-8 decode to U+FFFD: distinct ids would collapse into one, as lone
  // surrogates would. A real U+FFFD in valid UTF-8 passes.
  if (value.includes('\uFFFD') && !isUtf8(bytes.subarray(start + 1, end - 1))) {
    throw new InvalidEventError(field, `must be valid UTF-8, got ${JSON.stringify(value.slice(0, 80))}`);
  }
  return value;
}

/** Buffer's own slicers, without the argument parsing of toString (see src/queue/record-codec.ts). */
interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

const INTEGER = /^-?\d+$/;
const QUOTE = 0x22;
const COLON = 0x3a;
const DOT = 0x2e;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const N = 0x6e;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
