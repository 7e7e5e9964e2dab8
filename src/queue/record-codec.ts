import { crc32 } from 'node:zlib';
import {
  checkWellFormed,
  MAX_ID_BYTES,
  MAX_KEY_BYTES,
  type RecordView,
  type SluiceEvent,
} from '../codec/event.js';
import { UUIDV7_BYTES, uuidv7 } from '../codec/uuid-v7.js';
import { InvalidEventError, quote, RecordTooLargeError } from '../errors.js';
import { align, REC_SIZE, RECORD_HEADER_BYTES } from './layout.js';
import { isDetached, ownByteLength } from './own-bytes.js';
import type { Ring } from './ring-buffer.js';

/**
 * Record body, after the ring's 16-byte record header (offsets from the record's 8-byte aligned
 * start). The header fields are whole 32- and 64-bit words in the platform's byte order, read and
 * written through the ring's Int32Array and Float64Array views — one typed-array access per word
 * instead of a DataView call per field. The ring never leaves the process, so byte order never
 * matters; small fields are packed into their word with shifts, never addressed as bytes.
 *
 *   +16 i32 meta           flags (bits 0–7: HAS_KEY | HAS_SOURCE | HAS_TS | RAW), bits 8–15 0
 *                          (unused), id length in bytes, 1..255 (bits 16–23)
 *   +20 i32 lengths        key length (bits 0–15), source length (bits 16–31), bytes
 *   +24 i32 payload length bytes
 *   +28 i32 (reserved)
 *   +32 f64 enqueuedAt     wall-clock ms (fractional) when written, for end-to-end latency
 *   +40 f64 ts             event time, ms
 *   +48     id, key, source, payload bytes (UTF-8; the payload is JSON, or the raw line)
 */
const W_SIZE = REC_SIZE >> 2;
const W_META = RECORD_HEADER_BYTES >> 2;
const W_LENGTHS = 20 >> 2;
const W_PAYLOAD_LEN = 24 >> 2;
const F_ENQUEUED_AT = 32 >> 3;
const F_TS = 40 >> 3;
export const BODY_HEADER_END = 48;

export const FLAG_HAS_KEY = 1;
export const FLAG_HAS_SOURCE = 2;
export const FLAG_HAS_TS = 4;
export const FLAG_RAW = 8;
/** Stands in for a record too large for the queue (RefusedRecord): dead-lettered as `too-large`. */
export const FLAG_REFUSED = 16;

/** An event validated and serialised, ready to be copied into a ring once space is reserved. */
export interface PreparedRecord {
  id: string;
  idBytes: number;
  key: string | undefined;
  keyBytes: number;
  source: string | undefined;
  sourceBytes: number;
  ts: number;
  payload: string | Uint8Array;
  payloadBytes: number;
  flags: number;
  /** Total record bytes, header included, aligned. */
  size: number;
}

const timeOrigin = performance.timeOrigin;

/**
 * Buffer's own UTF-8 methods, which `write` and `toString` call after parsing their arguments in
 * JavaScript. Called directly they skip that parsing — about a fifth of a producer's time per event
 * in the trivial scenario's profile. They have been on Buffer.prototype since Node's early days.
 */
interface Utf8Buffer extends Buffer {
  utf8Write(value: string, offset: number, length: number): number;
  utf8Slice(start: number, end: number): string;
}

function utf8(buffer: Buffer): Utf8Buffer {
  return buffer as Utf8Buffer;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export function wallClockMs(): number {
  return timeOrigin + performance.now();
}

/**
 * A string's UTF-8 size. Buffer.byteLength counts a one-byte string of 16 to 400 characters in
 * ~18–29 ns here, where a loop checking for ASCII takes ~1.7 ns a character.
 */
function stringBytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * Strings at most this long are written into a record a character at a time when they are ASCII:
 * a call into Buffer's UTF-8 writer costs 70–80 ns even for 8 characters (the loop ~15) and 90–100
 * ns for a UUID's 36 (the loop ~63); past ~50 characters the call is cheaper.
 */
const SHORT_STRING = 40;

/**
 * Writes `value`, of `byteLength` UTF-8 bytes, at `p`; returns `byteLength`. Plain stores, as
 * utf8Write's: the record is published afterwards as a whole (Ring#publish orders them).
 */
function writeString(bytes: Buffer, p: number, value: string, byteLength: number): number {
  const n = value.length;
  // As many bytes as UTF-16 units only when every unit is ASCII: any other takes two or three
  // (a lone surrogate three, as its replacement character), a surrogate pair four.
  if (n === byteLength && n <= SHORT_STRING) {
    for (let i = 0; i < n; i++) bytes[p + i] = value.charCodeAt(i);
    return n;
  }
  return utf8(bytes).utf8Write(value, p, byteLength);
}

function checkId(id: unknown): string {
  if (typeof id !== 'string') {
    throw new InvalidEventError('id', `must be a string, got ${typeof id}`);
  }
  if (id.length === 0) throw new InvalidEventError('id', 'must not be empty');
  checkWellFormed('id', id);
  return id;
}

function checkOptionalString(field: 'key' | 'source', value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new InvalidEventError(field, `must be a string, got ${typeof value}`);
  }
  checkWellFormed(field, value);
  return value;
}

/**
 * The record of a checked event: `id` as given (checked), or a fresh UUIDv7 when it is undefined;
 * the lengths checked, the size computed. Positional arguments rather than an options object:
 * this runs once per pushed event, and an object per call is what the push path avoids.
 */
function finishPrepare(
  givenId: unknown,
  key: string | undefined,
  source: string | undefined,
  ts: number,
  payload: string | Uint8Array,
  payloadBytes: number,
  flags: number,
  maxRecordBytes: number,
): PreparedRecord {
  let id: string;
  let idBytes: number;
  if (givenId === undefined) {
    id = uuidv7();
    // ASCII: its byte count needs no scan.
    idBytes = UUIDV7_BYTES;
  } else {
    id = checkId(givenId);
    idBytes = stringBytes(id);
  }
  if (idBytes > MAX_ID_BYTES)
    throw new InvalidEventError('id', `must be at most ${MAX_ID_BYTES} UTF-8 bytes, got ${idBytes}`);
  const keyBytes = key === undefined ? 0 : stringBytes(key);
  if (keyBytes > MAX_KEY_BYTES)
    throw new InvalidEventError('key', `must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${keyBytes}`);
  const sourceBytes = source === undefined ? 0 : stringBytes(source);
  if (sourceBytes > MAX_KEY_BYTES) {
    throw new InvalidEventError('source', `must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${sourceBytes}`);
  }
  if (key !== undefined) flags |= FLAG_HAS_KEY;
  if (source !== undefined) flags |= FLAG_HAS_SOURCE;
  const size = recordSize(idBytes, keyBytes, sourceBytes, payloadBytes);
  if (size > maxRecordBytes) throw new RecordTooLargeError(size, maxRecordBytes);
  return { id, idBytes, key, keyBytes, source, sourceBytes, ts, payload, payloadBytes, flags, size };
}

/**
 * Validates and serialises an event. Throws InvalidEventError naming the field, or
 * RecordTooLargeError; nothing is written anywhere until the record is copied into a ring.
 */
export function prepareEvent(event: SluiceEvent, maxRecordBytes: number): PreparedRecord {
  if (event === null || typeof event !== 'object') {
    throw new InvalidEventError(
      '(event)',
      `must be an object, got ${event === null ? 'null' : typeof event}`,
    );
  }
  // Each field read once: a getter or a Proxy could give the check one value and the record another.
  // A getter or Proxy trap that throws makes the event one that cannot be pushed, as a field of the
  // wrong type does: an InvalidEventError naming the field (the thrown value its cause), not the
  // caller's own error escaping with no code to classify it by. Read by name, each access keeps a
  // load site of its own (one `event[name]` for all five would be a generic keyed load).
  let reading: 'id' | 'key' | 'source' | 'ts' | 'payload' = 'id';
  let givenId: unknown;
  let givenKey: unknown;
  let givenSource: unknown;
  let givenTs: unknown;
  let value: unknown;
  try {
    givenId = event.id;
    reading = 'key';
    givenKey = event.key;
    reading = 'source';
    givenSource = event.source;
    reading = 'ts';
    givenTs = event.ts;
    reading = 'payload';
    value = event.payload;
  } catch (error) {
    throw new InvalidEventError(reading, `cannot be read: ${messageOf(error)}`, { cause: error });
  }
  const key = checkOptionalString('key', givenKey);
  const source = checkOptionalString('source', givenSource);
  let flags = 0;
  let ts = 0;
  if (givenTs !== undefined) {
    if (typeof givenTs !== 'number' || !Number.isFinite(givenTs)) {
      throw new InvalidEventError('ts', `must be a finite number of milliseconds, got ${String(givenTs)}`);
    }
    ts = givenTs;
    flags |= FLAG_HAS_TS;
  }
  let payload: string | undefined;
  try {
    payload = JSON.stringify(value);
  } catch (error) {
    throw new InvalidEventError('payload', `is not JSON-serialisable: ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (payload === undefined) {
    throw new InvalidEventError('payload', `is not JSON-serialisable (${typeof value})`);
  }
  return finishPrepare(givenId, key, source, ts, payload, stringBytes(payload), flags, maxRecordBytes);
}

/** What was thrown, in words; never throws itself (a thrown value may be as hostile as the event). */
function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : quote(error);
  } catch {
    return 'a value that cannot be shown';
  }
}

/**
 * Prepares one serialised event (e.g. an NDJSON line) without parsing it: the worker parses it.
 * The record gets `id` — or, without one, a fresh id now — so a batch dispatched twice carries the
 * same id both times; a line with its own `id` field keeps that one.
 */
export function prepareRaw(
  bytes: Uint8Array | string,
  key: string | undefined,
  maxRecordBytes: number,
  id?: string,
  source?: string,
  refused = false,
): PreparedRecord {
  if (typeof bytes !== 'string' && !(bytes instanceof Uint8Array)) {
    throw new InvalidEventError('(raw)', `must be a Uint8Array or string, got ${typeof bytes}`);
  }
  let length: number;
  if (typeof bytes === 'string') length = stringBytes(bytes);
  else {
    // Its real length, not its `byteLength` property: the record is sized by it, and the copy
    // into the ring (TypedArray#set) takes every byte the array really holds.
    try {
      length = ownByteLength(bytes);
    } catch {
      throw new InvalidEventError(
        '(raw)',
        'must be a Uint8Array or string, got a Proxy or an imitation of one',
      );
    }
    if (length === 0 && isDetached(bytes)) {
      throw new InvalidEventError(
        '(raw)',
        'must be a Uint8Array or string, got a Uint8Array whose ArrayBuffer was transferred (detached)',
      );
    }
  }
  return finishPrepare(
    id,
    checkOptionalString('key', key),
    checkOptionalString('source', source),
    0,
    bytes,
    length,
    refused ? FLAG_RAW | FLAG_REFUSED : FLAG_RAW,
    maxRecordBytes,
  );
}

/**
 * Where a record can be written: a ring's data area, or a plain buffer holding record images (see
 * encodeFrames). Offsets are 8-byte aligned in both.
 */
export type RecordTarget = Pick<Ring, 'bytes' | 'words' | 'floats'>;

/** Copies a prepared record into the ring at data offset `at` (space already reserved). */
export function writeRecord(
  ring: RecordTarget,
  at: number,
  record: PreparedRecord,
  enqueuedAt: number,
): void {
  const bytes = ring.bytes;
  let p = writeHeader(
    ring,
    at,
    record.size,
    record.flags,
    record.idBytes,
    record.keyBytes,
    record.sourceBytes,
    record.payloadBytes,
    record.ts,
    enqueuedAt,
  );
  p += writeString(bytes, p, record.id, record.idBytes);
  if (record.key !== undefined) p += writeString(bytes, p, record.key, record.keyBytes);
  if (record.source !== undefined) p += writeString(bytes, p, record.source, record.sourceBytes);
  const payload = record.payload;
  if (typeof payload === 'string') utf8(bytes).utf8Write(payload, p, record.payloadBytes);
  else bytes.set(payload, p);
}

/**
 * Writes a record's header at data offset `at` and returns where its body starts: the caller
 * writes id, key, source and payload there, in that order, of the byte lengths given here.
 */
export function writeHeader(
  ring: RecordTarget,
  at: number,
  size: number,
  flags: number,
  idBytes: number,
  keyBytes: number,
  sourceBytes: number,
  payloadBytes: number,
  ts: number,
  enqueuedAt: number,
): number {
  const { words, floats } = ring;
  const w = at >> 2;
  const f = at >> 3;
  words[w + W_SIZE] = size;
  words[w + W_META] = flags | (idBytes << 16);
  words[w + W_LENGTHS] = keyBytes | (sourceBytes << 16);
  words[w + W_PAYLOAD_LEN] = payloadBytes;
  floats[f + F_ENQUEUED_AT] = enqueuedAt;
  floats[f + F_TS] = ts;
  return at + BODY_HEADER_END;
}

/**
 * Record images — records as they lie in a ring — framed for the disk log, back to back in one
 * buffer exactly as they would lie in a ring. An image's first 8 bytes (the ring's commit and
 * group words, never copied into a ring) hold its frame header: the length of the rest (u32 LE)
 * and the CRC-32 of the rest (u32 LE). So the log's frame of a record is its image, and a run of
 * images is copied into a ring in one piece. Image i is `bytes[starts[i], starts[i] + sizes[i])`.
 */
export interface FramedImages {
  readonly bytes: Buffer;
  readonly starts: readonly number[];
  readonly sizes: readonly number[];
}

/** A frame's header, the first 8 bytes of an image: the length and CRC-32 of the rest. */
export const FRAME_HEADER_BYTES = 8;

/** Prepared records as framed images, in one new buffer: checksums and all, ready to append. */
export function encodeFrames(records: readonly PreparedRecord[]): FramedImages {
  let total = 0;
  for (const r of records) total += r.size;
  const buffer = new ArrayBuffer(total);
  const target: RecordTarget = {
    bytes: Buffer.from(buffer),
    words: new Int32Array(buffer),
    floats: new Float64Array(buffer),
  };
  const bytes = target.bytes;
  const starts: number[] = [];
  const sizes: number[] = [];
  let at = 0;
  for (const r of records) {
    writeRecord(target, at, r, 0);
    bytes.writeUInt32LE(r.size - FRAME_HEADER_BYTES, at);
    bytes.writeUInt32LE(crc32(bytes.subarray(at + FRAME_HEADER_BYTES, at + r.size)), at + 4);
    starts.push(at);
    sizes.push(r.size);
    at += r.size;
  }
  return { bytes, starts, sizes };
}

/**
 * Frames as FramedImages: walks their headers (checksums are not checked: the caller trusts
 * where they come from). Undefined when the headers do not add up to the buffer's length.
 */
export function framesOf(bytes: Buffer): FramedImages | undefined {
  const starts: number[] = [];
  const sizes: number[] = [];
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= bytes.length) {
    const size = FRAME_HEADER_BYTES + bytes.readUInt32LE(at);
    starts.push(at);
    sizes.push(size);
    at += size;
  }
  return at === bytes.length ? { bytes, starts, sizes } : undefined;
}

/**
 * Whether the frame of `size` bytes at `start` (header included) is a record image
 * (encodeFrames): aligned, long enough, and its own size word saying so.
 */
export function isImage(bytes: Buffer, start: number, size: number): boolean {
  if (size < BODY_HEADER_END || size % 8 !== 0 || start + size > bytes.length) return false;
  const recorded = LITTLE_ENDIAN ? bytes.readInt32LE(start + REC_SIZE) : bytes.readInt32BE(start + REC_SIZE);
  return recorded === size;
}

/** Whether this platform stores words little-endian, as the ring's Int32Array words are stored. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Copies record images lying back to back in `bytes[start, end)` (encodeFrames) into the ring at
 * data offset `at` (space already reserved for all of them), in one copy, and stamps each with
 * `enqueuedAt`. The first 8 bytes — the commit and group words of the group's first record — are
 * left to the publication, as writeRecord leaves them: a consumer may be polling that commit word
 * meanwhile. The later records' own commit and group words receive their frame headers: a consumer
 * reads commit words only where a group starts, and none of them starts a group.
 */
export function writeImages(
  ring: RecordTarget,
  at: number,
  bytes: Buffer,
  start: number,
  end: number,
  enqueuedAt: number,
): void {
  bytes.copy(ring.bytes, at + REC_SIZE, start + REC_SIZE, end);
  const words = ring.words;
  const floats = ring.floats;
  const stop = at + (end - start);
  for (let p = at; p < stop; ) {
    floats[(p >> 3) + F_ENQUEUED_AT] = enqueuedAt;
    const size = words[(p >> 2) + (REC_SIZE >> 2)]!;
    // Images were checked (encodeFrames wrote them, or isImage read them back): never 0.
    if (size <= 0) break;
    p += size;
  }
}

/** A record's size in the ring, header included, aligned, from its parts' UTF-8 byte lengths. */
export function recordSize(
  idBytes: number,
  keyBytes: number,
  sourceBytes: number,
  payloadBytes: number,
): number {
  return align(BODY_HEADER_END + idBytes + keyBytes + sourceBytes + payloadBytes);
}

/**
 * Reads a record's metadata at data offset `at`, without parsing the payload. `rawId` false leaves
 * a raw record's id undecoded (`id` ''; `idOffset` and `idLength` say where it is): a raw record's
 * stored id is the fallback for a line without an `id` of its own, and the worker decodes it only
 * for such a line (decodeFields, recordId) rather than make a string per line it never uses.
 */
export function readRecord(ring: Ring, at: number, rawId = true): RecordView {
  const { words, floats, bytes } = ring;
  const w = at >> 2;
  const meta = words[w + W_META]!;
  const flags = meta & 0xff;
  const idLength = (meta >>> 16) & 0xff;
  const lengths = words[w + W_LENGTHS]!;
  const keyLength = lengths & 0xffff;
  const sourceLength = lengths >>> 16;
  let p = at + BODY_HEADER_END;
  const idOffset = p;
  const id = rawId || (flags & FLAG_RAW) === 0 ? utf8(bytes).utf8Slice(p, p + idLength) : '';
  p += idLength;
  let key: string | undefined;
  if (flags & FLAG_HAS_KEY) key = utf8(bytes).utf8Slice(p, p + keyLength);
  p += keyLength;
  let source: string | undefined;
  if (flags & FLAG_HAS_SOURCE) source = utf8(bytes).utf8Slice(p, p + sourceLength);
  p += sourceLength;
  return {
    id,
    idOffset,
    idLength,
    key,
    source,
    ts: flags & FLAG_HAS_TS ? floats[(at >> 3) + F_TS] : undefined,
    raw: (flags & FLAG_RAW) !== 0,
    refused: (flags & FLAG_REFUSED) !== 0,
    enqueuedAt: floats[(at >> 3) + F_ENQUEUED_AT]!,
    payloadOffset: p,
    payloadLength: words[w + W_PAYLOAD_LEN]! >>> 0,
  };
}

/** A record's stored id, decoded if readRecord left it undecoded. */
export function recordId(ring: Ring, record: RecordView): string {
  if (record.id !== '' || record.idLength === 0) return record.id;
  return utf8(ring.bytes).utf8Slice(record.idOffset, record.idOffset + record.idLength);
}

/** The payload bytes of a record as a string (JSON, or the raw line). */
export function payloadText(ring: Ring, record: RecordView): string {
  return utf8(ring.bytes).utf8Slice(record.payloadOffset, record.payloadOffset + record.payloadLength);
}
