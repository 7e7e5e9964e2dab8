import { emptyObjectList } from '../object-list.js';
import type { LineBatch } from '../queue/record-run.js';

/** Bytes of the UTF-8 byte order mark, U+FEFF (EF BB BF). */
export const BOM_BYTES = 3;

/** Whether `bytes` begin with a UTF-8 byte order mark. */
export function hasBom(bytes: Uint8Array): boolean {
  return bytes.length >= BOM_BYTES && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/** Whether `bytes` (shorter than a byte order mark) are how one begins: EF, or EF BB. */
export function isBomStart(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === 0xef && (bytes.length < 2 || bytes[1] === 0xbb);
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * NDJSON lines lying in one buffer, in input order, pushed without an object per line (a LineBatch):
 * line i is bytes[starts[i], ends[i]), starts at offsets[i] in the input, and is line numbers[i].
 */
export interface Lines {
  readonly bytes: Buffer;
  readonly starts: number[];
  readonly ends: number[];
  readonly offsets: number[];
  readonly numbers: number[];
}

/** How the lines of a batch are named: their source, and for a re-readable input their id. */
export interface LineNaming {
  /** A line's source is this followed by its line number. */
  sourcePrefix: string;
  /** A line without an `id` of its own gets this followed by its offset in the input; none: a fresh id. */
  idPrefix?: string | undefined;
}

function noLines(bytes: Buffer): Lines {
  return { bytes, starts: [], ends: [], offsets: [], numbers: [] };
}

/**
 * Where the complete line bytes[start, end) (its LF left out) ends without its CR, or -1 when it is
 * blank (nothing but spaces and tabs): NDJSON's one rule of what a line holds, for every source.
 */
function contentEnd(bytes: Buffer, start: number, end: number): number {
  if (end > start && bytes[end - 1] === CARRIAGE_RETURN) end--;
  let first = start;
  while (first < end && (bytes[first] === SPACE || bytes[first] === TAB)) first++;
  return first === end ? -1 : end;
}

function append(lines: Lines, start: number, end: number, offset: number, number: number): void {
  lines.starts.push(start);
  lines.ends.push(end);
  lines.offsets.push(offset);
  lines.numbers.push(number);
}

/** Every line of a whole body (the last needs no LF), numbered from 1, blank lines counted and left out. */
export function splitLines(body: Buffer): Lines {
  const lines = noLines(body);
  let from = 0;
  let number = 0;
  while (from <= body.length) {
    number++;
    let at = body.indexOf(NEWLINE, from);
    if (at === -1) at = body.length;
    const end = contentEnd(body, from, at);
    if (end !== -1) append(lines, from, end, from, number);
    from = at + 1;
  }
  return lines;
}

/** Lines [from, to) as a LineBatch, named as `naming` says. */
export function lineBatch(lines: Lines, from: number, to: number, naming: LineNaming): LineBatch {
  const all = from === 0 && to === lines.starts.length;
  const cut = <T>(list: T[]) => (all ? list : list.slice(from, to));
  return {
    bytes: lines.bytes,
    starts: cut(lines.starts),
    ends: cut(lines.ends),
    sourcePrefix: naming.sourcePrefix,
    sourceNumbers: cut(lines.numbers),
    ...(naming.idPrefix === undefined ? {} : { idPrefix: naming.idPrefix, idNumbers: cut(lines.offsets) }),
    // A source awaits each push before it reads into the buffer again (an HTTP body's is its own).
    bytesKept: true,
  };
}

/** Only there to make PendingLines' lists lists of objects from the start. */
const NO_LINES: Lines = Object.freeze(noLines(Buffer.alloc(0)));

/**
 * Lines read and not yet pushed, grouped by the buffer they lie in, in input order.
 *
 * The batch being added to is a field of its own, and each list is made holding objects
 * (emptyObjectList): read back with `at(-1)` from a list that began as `[]`, the line loop's
 * optimised code met a list of a new kind after every take() and was thrown away ("wrong map",
 * "not a Smi": `--trace-deopt` of a 200 000-line run).
 */
export class PendingLines {
  #batches = emptyObjectList(NO_LINES);
  #last: Lines | undefined;

  /** Adds the complete line bytes[start, end) without its CR, unless it is blank. */
  add(bytes: Buffer, start: number, end: number, offset: number, number: number): void {
    const contentTo = contentEnd(bytes, start, end);
    if (contentTo === -1) return;
    let last = this.#last;
    if (last === undefined || last.bytes !== bytes) {
      last = noLines(bytes);
      this.#batches.push(last);
      this.#last = last;
    }
    append(last, start, contentTo, offset, number);
  }

  /** Every batch so far, in order; the pending list starts empty again. */
  take(): Lines[] {
    const batches = this.#batches;
    this.#batches = emptyObjectList(NO_LINES);
    this.#last = undefined;
    return batches;
  }
}
