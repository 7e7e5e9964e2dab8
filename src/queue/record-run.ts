import { checkWellFormed, MAX_ID_BYTES, MAX_KEY_BYTES } from '../codec/event.js';
import { UUIDV7_BYTES, writeUuidv7 } from '../codec/uuid-v7.js';
import { InvalidEventError, quote, RecordTooLargeError } from '../errors.js';
import { ownByteLength, ownView } from './own-bytes.js';
import {
  FLAG_HAS_KEY,
  FLAG_HAS_SOURCE,
  FLAG_RAW,
  type FramedImages,
  LITTLE_ENDIAN,
  type PreparedRecord,
  recordSize,
  writeHeader,
  writeImages,
  writeRecord,
} from './record-codec.js';
import type { Ring } from './ring-buffer.js';

/**
 * Records a producer copies into a ring as publish groups: how many, the size of each, and how to
 * write one. Prepared records are one kind; lines lying in one buffer (LineRun) are another, written
 * without an object or a string per line.
 */
export interface RecordRun {
  readonly length: number;
  /** Record i's size in the ring, header included, aligned. */
  size(i: number): number;
  /** Writes record i at data offset `at`, space reserved; `enqueuedAt` stamps it. */
  write(ring: Ring, at: number, i: number, enqueuedAt: number): void;
  /** Writes records `from`…`to` from `at` on, when the run can do that faster than one by one. */
  writeRange?(ring: Ring, at: number, from: number, to: number, enqueuedAt: number): void;
  /**
   * Copies whatever records `from` on still read from the caller's memory (a Uint8Array it passed),
   * so that what is written later is what was pushed: called before a write waits for room, when
   * the caller could reuse, change or transfer that memory meanwhile.
   */
  retain?(from: number): void;
}

/**
 * The first `length` bytes of `bytes` (its size when the push took it), in memory of their own —
 * not Buffer#slice, which shares its memory.
 */
function copyOf(bytes: Uint8Array, length: number): Uint8Array {
  const copy = new Uint8Array(length);
  copy.set(ownView(bytes, length));
  return copy;
}

/** Records validated and serialised by prepareEvent or prepareRaw. */
export class PreparedRun implements RecordRun {
  readonly records: readonly PreparedRecord[];

  constructor(records: readonly PreparedRecord[]) {
    this.records = records;
  }

  get length(): number {
    return this.records.length;
  }

  size(i: number): number {
    return this.records[i]!.size;
  }

  write(ring: Ring, at: number, i: number, enqueuedAt: number): void {
    writeRecord(ring, at, this.records[i]!, enqueuedAt);
  }

  retain(from: number): void {
    for (let i = from; i < this.records.length; i++) {
      const record = this.records[i]!;
      if (typeof record.payload !== 'string') record.payload = copyOf(record.payload, record.payloadBytes);
    }
  }
}

/** Framed record images (encodeFrames), e.g. read back from the disk queue's log: copied as they are. */
export class ImageRun implements RecordRun {
  readonly #frames: FramedImages;
  readonly #from: number;
  readonly length: number;

  /** Images `from` to `to` (exclusive) of `frames`. */
  constructor(frames: FramedImages, from: number, to: number) {
    this.#frames = frames;
    this.#from = from;
    this.length = to - from;
  }

  size(i: number): number {
    return this.#frames.sizes[this.#from + i]!;
  }

  write(ring: Ring, at: number, i: number, enqueuedAt: number): void {
    this.writeRange(ring, at, i, i + 1, enqueuedAt);
  }

  /** Records `from` to `to` at `at`: one copy when they lie back to back, as encodeFrames lays them. */
  writeRange(ring: Ring, at: number, from: number, to: number, enqueuedAt: number): void {
    const { bytes, starts, sizes } = this.#frames;
    let i = this.#from + from;
    const last = this.#from + to;
    while (i < last) {
      // The longest stretch of images back to back from i.
      const start = starts[i]!;
      let end = start + sizes[i]!;
      let j = i + 1;
      while (j < last && starts[j] === end) end += sizes[j++]!;
      writeImages(ring, at, bytes, start, end, enqueuedAt);
      at += end - start;
      i = j;
    }
  }
}

/**
 * Serialised events — NDJSON lines — lying in one buffer, pushed raw (parsed in a worker) without
 * an object per line: a source that splits a read into lines hands over the read and the lines'
 * bounds. Each line's id and source can be made of a fixed part and a number (a file's digest and
 * the line's byte offset; the file's name and the line's number), written into the ring as digits.
 */
export interface LineBatch {
  /** The bytes the lines are in. */
  readonly bytes: Uint8Array;
  /** Line i is bytes [starts[i], ends[i]). */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /**
   * A line without an `id` of its own gets `idPrefix` followed by idNumbers[i] in decimal — the
   * same on every read of the same input. Without idPrefix: a fresh UUIDv7 each.
   */
  readonly idPrefix?: string;
  readonly idNumbers?: readonly number[];
  /** Each line's source, unless it has a `source` of its own: sourcePrefix then sourceNumbers[i]. */
  readonly sourcePrefix?: string;
  readonly sourceNumbers?: readonly number[];
  /** Partitioning and ordering key of every line. */
  readonly key?: string;
  /**
   * The caller leaves `bytes` as they are until the push settles (it awaits the push before it
   * reads into them again): a push that waits for room then need not copy them first.
   */
  readonly bytesKept?: boolean;
}

/**
 * Copies source[start, end) into the ring's data area at `at`: bytes up to the first word boundary
 * of the target, then 32-bit words (an unaligned DataView load, an aligned Int32Array store), then
 * the last few bytes. For the short pieces a line run writes — a line, a prefix — this is faster
 * than `TypedArray#set`, which copies into a SharedArrayBuffer with relaxed atomic stores, a byte
 * at a time unless both ends share their alignment to 8 (a line's place in a read and its place in
 * a record mostly do not), and which needs a view made per piece (`subarray`) first
 * (docs/MEASUREMENTS.md).
 *
 * Plain stores, as `set`'s are: nothing reads these bytes before the record's group is published
 * (QueueProducer#writeGroup, then Ring#publish's Atomics.store of the commit word, which orders
 * every store before it for the consumer whose Atomics.load observes it).
 */
export function copyIntoRing(ring: Ring, at: number, source: DataView, start: number, end: number): void {
  const bytes = ring.data;
  const words = ring.words;
  let from = start;
  let to = at;
  // Up to three bytes, until the target is word-aligned.
  for (; (to & 3) !== 0 && from < end; from++, to++) bytes[to] = source.getUint8(from);
  for (const last = end - 4; from <= last; from += 4, to += 4)
    words[to >> 2] = source.getInt32(from, LITTLE_ENDIAN);
  for (; from < end; from++, to++) bytes[to] = source.getUint8(from);
}

/** A DataView over all of `bytes`. */
function viewOf(bytes: Uint8Array): DataView {
  const own = ownView(bytes);
  return new DataView(own.buffer, own.byteOffset, own.byteLength);
}

/** Decimal digits of a whole number from 0 to 2^53. */
function digitCount(n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  return digits;
}

/** Writes n's `count` decimal digits at `at`. */
function writeDigits(bytes: Uint8Array, at: number, n: number, count: number): void {
  for (let i = count - 1, x = n; i >= 0; i--, x = Math.floor(x / 10)) bytes[at + i] = 0x30 + (x % 10);
}

/** A fixed part of an id, key or source, as checked UTF-8. */
function part(field: 'id' | 'key' | 'source', value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidEventError(field, `must be a string, got ${typeof value}`);
  checkWellFormed(field, value);
  return Buffer.from(value, 'utf8');
}

/** A LineBatch as pushLines took it: every field read once, checked, its numbers copied. */
export interface CheckedLines {
  readonly bytes: Uint8Array;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly idPrefix: string | undefined;
  readonly idNumbers: readonly number[] | undefined;
  readonly sourcePrefix: string | undefined;
  readonly sourceNumbers: readonly number[] | undefined;
  readonly key: string | undefined;
  readonly bytesKept: boolean;
}

/** Refuses a field of a pushLines argument, naming it and the value. */
function badLines(field: string, expectation: string, value: unknown): InvalidEventError {
  // Cut short: a wrong `bytes` or `starts` may be megabytes long.
  const text =
    value instanceof Uint8Array ? `a ${value.constructor.name} of ${value.length} bytes` : quote(value);
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return new InvalidEventError(field, `must be ${expectation}, got ${shown}`, { argumentOf: 'pushLines' });
}

/**
 * A LineBatch's array field copied, each element a whole number from `lower[i]` (0 without it) to
 * `max`; `range(i)` says so in the refusal.
 */
function wholeNumbers(
  field: string,
  value: unknown,
  length: number,
  lower: readonly number[] | undefined,
  max: number,
  range: (i: number) => string,
): number[] {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    throw badLines(field, 'an array of numbers', value);
  }
  const list = value as ArrayLike<unknown>;
  if (!(list.length >= length))
    throw badLines(`${field}.length`, `at least ${length} (one per start)`, list.length);
  // A plain array, not a Float64Array: its small integers stay integers (Smis), and the digits
  // written per line (writeDigits: `%` and `/` by 10) stay integer arithmetic, not fmod on doubles.
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    const n = list[i];
    if (
      typeof n !== 'number' ||
      !Number.isInteger(n) ||
      n < (lower === undefined ? 0 : lower[i]!) ||
      n > max
    ) {
      throw badLines(`${field}[${i}]`, `a whole number ${range(i)}`, n);
    }
    out.push(n);
  }
  return out;
}

/**
 * pushLines' argument checked before anything is reserved: a line out of its buffer's bounds, or
 * ending before it starts, would be copied as another record's bytes or past its own space. The
 * numbers are copied, so that what was checked is what is written, whatever the caller's arrays do
 * later; the bytes stay the caller's until a write must wait (LineRun#retain).
 */
export function checkLineBatch(batch: LineBatch): CheckedLines {
  if (batch === null || typeof batch !== 'object') throw badLines('batch', 'a LineBatch with bytes', batch);
  const bytes = batch.bytes;
  if (!(bytes instanceof Uint8Array)) throw badLines('bytes', 'a Uint8Array', bytes);
  // Its real length (see own-bytes.ts): the lines are checked against it.
  let size: number;
  try {
    size = ownByteLength(bytes);
  } catch {
    throw badLines('bytes', 'a Uint8Array', 'a Proxy or an imitation of one');
  }
  const startsIn = batch.starts;
  if (!Array.isArray(startsIn) && !ArrayBuffer.isView(startsIn)) {
    throw badLines('starts', 'an array of numbers', startsIn);
  }
  const count = (startsIn as ArrayLike<unknown>).length;
  const starts = wholeNumbers(
    'starts',
    startsIn,
    count,
    undefined,
    size,
    () => `from 0 to bytes.byteLength (${size})`,
  );
  const ends = wholeNumbers(
    'ends',
    batch.ends,
    count,
    starts,
    size,
    (i) => `from starts[${i}] (${starts[i]}) to bytes.byteLength (${size})`,
  );
  const numbers = (field: string, prefix: unknown, value: unknown) =>
    prefix === undefined
      ? undefined
      : wholeNumbers(field, value, count, undefined, Number.MAX_SAFE_INTEGER, () => 'from 0 to 2^53 - 1');
  const idPrefix = batch.idPrefix;
  const sourcePrefix = batch.sourcePrefix;
  return {
    bytes,
    starts,
    ends,
    idPrefix,
    idNumbers: numbers('idNumbers', idPrefix, batch.idNumbers),
    sourcePrefix,
    sourceNumbers: numbers('sourceNumbers', sourcePrefix, batch.sourceNumbers),
    key: batch.key,
    bytesKept: batch.bytesKept === true,
  };
}

/** A LineBatch as a RecordRun: sizes computed once, every line checked against maxRecordBytes. */
export class LineRun implements RecordRun {
  readonly #batch: CheckedLines;
  /** The lines' bytes: the caller's, or a copy of them once retained. */
  #bytes: Uint8Array;
  readonly #idPrefix: Buffer | undefined;
  readonly #sourcePrefix: Buffer | undefined;
  readonly #key: Buffer | undefined;
  readonly #sizes: Int32Array;
  /** DataViews of the lines' bytes and of the parts, for copyIntoRing. */
  #lines: DataView;
  readonly #idPrefixView: DataView | undefined;
  readonly #sourcePrefixView: DataView | undefined;
  readonly #keyView: DataView | undefined;
  /** Digits of each line's id number and source number (0 when it has none). */
  readonly #idDigits: Uint8Array;
  readonly #sourceDigits: Uint8Array;
  readonly #flags: number;

  /** Throws InvalidEventError for a bad id, key or source part, RecordTooLargeError for a line. */
  constructor(batch: CheckedLines, maxRecordBytes: number) {
    this.#batch = batch;
    this.#bytes = batch.bytes;
    this.#idPrefix = part('id', batch.idPrefix);
    this.#sourcePrefix = part('source', batch.sourcePrefix);
    this.#key = part('key', batch.key);
    this.#lines = viewOf(batch.bytes);
    this.#idPrefixView = this.#idPrefix && viewOf(this.#idPrefix);
    this.#sourcePrefixView = this.#sourcePrefix && viewOf(this.#sourcePrefix);
    this.#keyView = this.#key && viewOf(this.#key);
    const { starts, ends, idNumbers, sourceNumbers } = batch;
    if ((this.#key?.length ?? 0) > MAX_KEY_BYTES) {
      throw new InvalidEventError(
        'key',
        `must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${this.#key!.length}`,
      );
    }
    this.#flags = FLAG_RAW | (this.#sourcePrefix ? FLAG_HAS_SOURCE : 0) | (this.#key ? FLAG_HAS_KEY : 0);
    const keyBytes = this.#key?.length ?? 0;
    const sizes = new Int32Array(starts.length);
    const idDigits = new Uint8Array(starts.length);
    const sourceDigits = new Uint8Array(starts.length);
    for (let i = 0; i < starts.length; i++) {
      if (this.#idPrefix) idDigits[i] = digitCount(idNumbers![i]!);
      if (this.#sourcePrefix) sourceDigits[i] = digitCount(sourceNumbers![i]!);
      const idBytes = this.#idPrefix ? this.#idPrefix.length + idDigits[i]! : UUIDV7_BYTES;
      if (idBytes > MAX_ID_BYTES) {
        throw new InvalidEventError('id', `must be at most ${MAX_ID_BYTES} UTF-8 bytes, got ${idBytes}`);
      }
      const sourceBytes = this.#sourcePrefix ? this.#sourcePrefix.length + sourceDigits[i]! : 0;
      if (sourceBytes > MAX_KEY_BYTES) {
        throw new InvalidEventError(
          'source',
          `must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${sourceBytes}`,
        );
      }
      const size = recordSize(idBytes, keyBytes, sourceBytes, ends[i]! - starts[i]!);
      if (size > maxRecordBytes) throw new RecordTooLargeError(size, maxRecordBytes);
      sizes[i] = size;
    }
    this.#sizes = sizes;
    this.#idDigits = idDigits;
    this.#sourceDigits = sourceDigits;
  }

  retain(from: number): void {
    if (this.#batch.bytesKept || from >= this.#sizes.length || this.#bytes !== this.#batch.bytes) return;
    // The whole buffer: the lines' offsets stay as they are. A read's worth, once per wait at most.
    this.#bytes = copyOf(this.#bytes, this.#bytes.byteLength);
    this.#lines = viewOf(this.#bytes);
  }

  get length(): number {
    return this.#sizes.length;
  }

  size(i: number): number {
    return this.#sizes[i]!;
  }

  write(ring: Ring, at: number, i: number, enqueuedAt: number): void {
    const b = this.#batch;
    const target = ring.bytes;
    const idPrefix = this.#idPrefix;
    const sourcePrefix = this.#sourcePrefix;
    const key = this.#key;
    const idDigits = this.#idDigits[i]!;
    const sourceDigits = this.#sourceDigits[i]!;
    const idBytes = idPrefix ? idPrefix.length + idDigits : UUIDV7_BYTES;
    const sourceBytes = sourcePrefix ? sourcePrefix.length + sourceDigits : 0;
    const start = b.starts[i]!;
    const end = b.ends[i]!;
    let p = writeHeader(
      ring,
      at,
      this.#sizes[i]!,
      this.#flags,
      idBytes,
      key?.length ?? 0,
      sourceBytes,
      end - start,
      0,
      enqueuedAt,
    );
    if (idPrefix) {
      copyIntoRing(ring, p, this.#idPrefixView!, 0, idPrefix.length);
      p += idPrefix.length;
      writeDigits(target, p, b.idNumbers![i]!, idDigits);
      p += idDigits;
    } else {
      // The group's time, whole milliseconds: one clock read per group, not per line.
      writeUuidv7(target, p, Math.floor(enqueuedAt));
      p += UUIDV7_BYTES;
    }
    if (key) {
      copyIntoRing(ring, p, this.#keyView!, 0, key.length);
      p += key.length;
    }
    if (sourcePrefix) {
      copyIntoRing(ring, p, this.#sourcePrefixView!, 0, sourcePrefix.length);
      p += sourcePrefix.length;
      writeDigits(target, p, b.sourceNumbers![i]!, sourceDigits);
      p += sourceDigits;
    }
    copyIntoRing(ring, p, this.#lines, start, end);
  }
}
