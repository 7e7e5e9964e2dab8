/**
 * Object members taken out of a JSON text as bytes, at any depth: every other byte stays as it was
 * sent — numbers exact, strings as written (invalid UTF-8 included, for the workers to refuse) —
 * and nothing is parsed, so a text nested 20 000 deep costs a walk, not a stack overflow.
 *
 * The text must be valid JSON (JsonScanner said so): the walk checks nothing, it only finds where
 * strings, containers and members begin and end.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** One member of an object being walked: where it starts, where its value ends, and its comma before. */
interface Member {
  start: number;
  /** The comma before it, or -1 for an object's first member. */
  commaBefore: number;
  valueEnd: number;
  dropped: boolean;
}

/** An open container: for an object, its members so far. */
interface Frame {
  members: Member[] | undefined;
}

/** The offset after the string whose opening quote is at p. */
function stringEnd(b: Uint8Array, p: number): number {
  p++;
  for (;;) {
    const c = b[p]!;
    if (c === QUOTE) return p + 1;
    // An escape is two bytes at least (\uXXXX: its four hex digits hold no quote or backslash).
    p += c === BACKSLASH ? 2 : 1;
  }
}

function skipSpace(b: Uint8Array, p: number): number {
  while (p < b.length && isSpace(b[p]!)) p++;
  return p;
}

/**
 * `text` without the object members named in `names`, wherever they are; undefined when it has
 * none of them (then use `text` as it is). A name is matched as JSON.parse reads it: an escaped
 * spelling (`"__pro\u0074o__"`) is the same name.
 */
export function stripMembers(text: Uint8Array, names: ReadonlySet<string>): Buffer | undefined {
  const b = text;
  const cuts: number[] = [];
  const frames: Frame[] = [];
  let p = skipSpace(b, 0);
  // Each pass starts at a value.
  for (;;) {
    const c = b[p]!;
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const object = c === OPEN_BRACE;
      p = skipSpace(b, p + 1);
      if (b[p] === (object ? CLOSE_BRACE : CLOSE_BRACKET)) {
        p++;
      } else {
        const frame: Frame = { members: object ? [] : undefined };
        frames.push(frame);
        if (object) p = memberName(b, p, -1, frame.members!, names);
        continue;
      }
    } else if (c === QUOTE) {
      p = stringEnd(b, p);
    } else {
      // A number or a literal: up to the next delimiter.
      while (p < b.length) {
        const d = b[p]!;
        if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
        p++;
      }
    }
    // A value ended at p: close containers, or go on to the next element or member.
    for (;;) {
      const frame = frames.at(-1);
      if (frame === undefined) return cutOut(b, cuts);
      // In an object, its last member's value is the one that ended (a container: just closed).
      const last = frame.members?.[frame.members.length - 1];
      if (last !== undefined && last.valueEnd === 0) last.valueEnd = p;
      p = skipSpace(b, p);
      const d = b[p]!;
      if (d === COMMA) {
        const comma = p;
        p = skipSpace(b, p + 1);
        if (frame.members) p = memberName(b, p, comma, frame.members, names);
        break;
      }
      // A closing brace or bracket.
      p++;
      frames.pop();
      if (frame.members) dropMembers(frame.members, cuts);
    }
  }
}

/** Reads the member name at p (its opening quote) and its colon; returns where its value starts. */
function memberName(
  b: Uint8Array,
  p: number,
  commaBefore: number,
  members: Member[],
  names: ReadonlySet<string>,
): number {
  const start = p;
  const end = stringEnd(b, p);
  members.push({ start, commaBefore, valueEnd: 0, dropped: names.has(nameOf(b, start, end)) });
  p = skipSpace(b, end);
  // b[p] is the colon.
  return skipSpace(b, p + (b[p] === COLON ? 1 : 0));
}

/** A member name as JSON.parse reads it; [start, end) includes its quotes. */
function nameOf(b: Uint8Array, start: number, end: number): string {
  const raw = Buffer.from(b.buffer, b.byteOffset + start, end - start);
  if (!raw.includes(BACKSLASH)) return raw.toString('utf8', 1, raw.length - 1);
  return JSON.parse(raw.toString('utf8')) as string;
}

/**
 * The byte ranges to cut for an object's dropped members, so that what stays is valid: a dropped
 * member after a kept one goes with the comma before it; one before any kept member, with
 * everything up to the next member (its comma included).
 */
function dropMembers(members: Member[], cuts: number[]): void {
  let keptBefore = false;
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    if (!m.dropped) {
      keptBefore = true;
      continue;
    }
    if (keptBefore) cuts.push(m.commaBefore, m.valueEnd);
    else if (i + 1 < members.length) cuts.push(m.start, members[i + 1]!.start);
    else cuts.push(m.start, m.valueEnd);
  }
}

/** `b` without the ranges in `cuts` (pairs; nested ranges lie inside the ones that hold them). */
function cutOut(b: Uint8Array, cuts: number[]): Buffer | undefined {
  if (cuts.length === 0) return undefined;
  const ranges: [number, number][] = [];
  for (let i = 0; i < cuts.length; i += 2) ranges.push([cuts[i]!, cuts[i + 1]!]);
  ranges.sort((x, y) => x[0] - y[0]);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [from, to] of ranges) {
    if (to <= at) continue;
    if (from > at) parts.push(b.subarray(at, from));
    at = Math.max(at, to);
  }
  parts.push(b.subarray(at));
  return Buffer.concat(parts);
}
