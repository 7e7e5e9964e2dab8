/**
 * One pass over an event's JSON as UTF-8 bytes, without building it: checks that it is valid JSON
 * (RFC 8259, as JSON.parse takes it), that arrays and objects nest at most `maxDepth` deep, and —
 * when the text is an object — where its top-level `id`, `key`, `source` and `ts` values are. The
 * engine uses it to take an event's id from a line it never parses: an event no transform reads is
 * written as the bytes it was pushed as.
 *
 * Bytes at or above 0x80 are taken as they are: UTF-8 is not checked here (a sink that cares, as
 * PostgreSQL does, refuses an invalid sequence for that record alone).
 */
export const SCAN_OK = 0;
export const SCAN_INVALID = 1;
export const SCAN_TOO_DEEP = 2;
export type ScanResult = typeof SCAN_OK | typeof SCAN_INVALID | typeof SCAN_TOO_DEEP;

/** Which top-level member a value belongs to (see JsonScanner's field offsets). */
const NONE = -1;
const F_ID = 0;
const F_KEY = 1;
const F_SOURCE = 2;
const F_TS = 3;
const FIELDS = 4;

const OBJECT = 1;
const ARRAY = 2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** The bytes of `true`, `false`, `null` after their first letter. */
const TRUE_REST = [0x72, 0x75, 0x65];
const FALSE_REST = [0x61, 0x6c, 0x73, 0x65];
const NULL_REST = [0x75, 0x6c, 0x6c];

/** JSON's whitespace: space, LF, CR, tab (a character code or a byte). */
export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * A reusable scanner (one per thread): `scan` fills in where the last scanned text's top-level
 * fields are — `start(F)`/`end(F)` byte offsets of each value, -1 when absent — and whether a
 * field's string value holds escapes.
 */
export class JsonScanner {
  /** Container kind at each depth. */
  #stack = new Uint8Array(64);
  readonly #starts = new Int32Array(FIELDS);
  readonly #ends = new Int32Array(FIELDS);
  /** Member name of the value being scanned, when it is a top-level member we look for. */
  #member = NONE;
  /** Whether the last scanned string held a backslash escape. */
  #escaped = false;
  readonly #escapes = new Uint8Array(FIELDS);

  /** Where the top-level `id` value is: [start, end) of its JSON text, or -1. */
  get idStart(): number {
    return this.#starts[F_ID]!;
  }
  get idEnd(): number {
    return this.#ends[F_ID]!;
  }
  get keyStart(): number {
    return this.#starts[F_KEY]!;
  }
  get keyEnd(): number {
    return this.#ends[F_KEY]!;
  }
  get sourceStart(): number {
    return this.#starts[F_SOURCE]!;
  }
  get sourceEnd(): number {
    return this.#ends[F_SOURCE]!;
  }
  get tsStart(): number {
    return this.#starts[F_TS]!;
  }
  get tsEnd(): number {
    return this.#ends[F_TS]!;
  }
  /** Whether the id's, key's or source's string value holds escapes (then decode it with JSON.parse). */
  get idEscaped(): boolean {
    return this.#escapes[F_ID] === 1;
  }
  get keyEscaped(): boolean {
    return this.#escapes[F_KEY] === 1;
  }
  get sourceEscaped(): boolean {
    return this.#escapes[F_SOURCE] === 1;
  }

  /**
   * Scans bytes [start, end). `fields`: find the top-level members too (a pushed object needs only
   * the check). `elements`: when the text is an array, each element's [start, end) is appended to
   * it, as pairs. Returns SCAN_OK, SCAN_INVALID or SCAN_TOO_DEEP.
   */
  scan(
    b: Uint8Array,
    start: number,
    end: number,
    maxDepth: number,
    fields = true,
    elements?: number[],
  ): ScanResult {
    this.#starts.fill(-1);
    this.#ends.fill(-1);
    this.#escapes.fill(0);
    let stack = this.#stack;
    let depth = 0;
    let p = start;
    this.#member = NONE;
    /** The value of the top-level container being scanned that is itself a non-empty container. */
    let containerMember = NONE;
    let containerStart = 0;
    for (;;) {
      // A value starts here.
      while (p < end && isSpace(b[p]!)) p++;
      if (p >= end) return SCAN_INVALID;
      const valueStart = p;
      const member = this.#member;
      let c = b[p]!;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === maxDepth) return SCAN_TOO_DEEP;
        if (depth === stack.length) {
          // Grown as deep texts need it, not to maxDepth up front (which may be the text's length).
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          this.#stack = stack = grown;
        }
        const kind = c === OPEN_BRACE ? OBJECT : ARRAY;
        stack[depth++] = kind;
        p++;
        while (p < end && isSpace(b[p]!)) p++;
        if (p >= end) return SCAN_INVALID;
        if (b[p] === (kind === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
          p++;
          depth--;
        } else {
          if (depth === 2) {
            containerMember = member;
            containerStart = valueStart;
          }
          if (kind === OBJECT) {
            p = this.#memberName(b, p, end, fields && depth === 1);
            if (p < 0) return SCAN_INVALID;
          } else this.#member = NONE;
          continue;
        }
      } else if (c === QUOTE) {
        p = this.#string(b, p, end);
        if (p < 0) return SCAN_INVALID;
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        p = number(b, p, end);
        if (p < 0) return SCAN_INVALID;
      } else if (c === 0x74) {
        p = literal(b, p, end, TRUE_REST);
        if (p < 0) return SCAN_INVALID;
      } else if (c === 0x66) {
        p = literal(b, p, end, FALSE_REST);
        if (p < 0) return SCAN_INVALID;
      } else if (c === 0x6e) {
        p = literal(b, p, end, NULL_REST);
        if (p < 0) return SCAN_INVALID;
      } else return SCAN_INVALID;
      // A value ended at p. A top-level member's value: the last one wins, as in JSON.parse.
      if (depth === 1) {
        if (member !== NONE) {
          this.#starts[member] = valueStart;
          this.#ends[member] = p;
          this.#escapes[member] = c === QUOTE && this.#escaped ? 1 : 0;
        } else if (elements !== undefined && stack[0] === ARRAY) elements.push(valueStart, p);
      }
      // Close containers, or go on to the next element or member.
      for (;;) {
        while (p < end && isSpace(b[p]!)) p++;
        if (depth === 0) return p === end ? SCAN_OK : SCAN_INVALID;
        if (p >= end) return SCAN_INVALID;
        c = b[p]!;
        const kind = stack[depth - 1]!;
        if (c === COMMA) {
          p++;
          if (kind === OBJECT) {
            while (p < end && isSpace(b[p]!)) p++;
            p = this.#memberName(b, p, end, fields && depth === 1);
            if (p < 0) return SCAN_INVALID;
          } else this.#member = NONE;
          break;
        }
        if ((kind === OBJECT && c === CLOSE_BRACE) || (kind === ARRAY && c === CLOSE_BRACKET)) {
          p++;
          depth--;
          if (depth === 1) {
            if (containerMember !== NONE) {
              this.#starts[containerMember] = containerStart;
              this.#ends[containerMember] = p;
              this.#escapes[containerMember] = 0;
            } else if (elements !== undefined && stack[0] === ARRAY) elements.push(containerStart, p);
            containerMember = NONE;
          }
          continue;
        }
        return SCAN_INVALID;
      }
    }
  }

  /**
   * A member name and its colon, at p; sets #member when `look` and the name is one we want.
   * Returns the offset after the colon, or -1.
   */
  #memberName(b: Uint8Array, p: number, end: number, look: boolean): number {
    if (p >= end || b[p] !== QUOTE) return -1;
    const nameStart = p;
    p = this.#string(b, p, end);
    if (p < 0) return -1;
    this.#member = look ? memberOf(b, nameStart, p, this.#escaped) : NONE;
    while (p < end && isSpace(b[p]!)) p++;
    if (p >= end || b[p] !== COLON) return -1;
    return p + 1;
  }

  /** A string at p (its opening quote); returns the offset after its closing quote, or -1. */
  #string(b: Uint8Array, p: number, end: number): number {
    let escaped = false;
    p++;
    for (;;) {
      if (p >= end) return -1;
      const c = b[p]!;
      if (c === QUOTE) break;
      if (c < 0x20) return -1;
      if (c === BACKSLASH) {
        escaped = true;
        if (p + 1 >= end) return -1;
        const e = b[p + 1]!;
        if (e === 0x75) {
          if (p + 5 >= end) return -1;
          if (!isHex(b[p + 2]!) || !isHex(b[p + 3]!) || !isHex(b[p + 4]!) || !isHex(b[p + 5]!)) return -1;
          p += 6;
          continue;
        }
        // " \ / b f n r t
        if (
          e !== QUOTE &&
          e !== BACKSLASH &&
          e !== 0x2f &&
          e !== 0x62 &&
          e !== 0x66 &&
          e !== 0x6e &&
          e !== 0x72 &&
          e !== 0x74
        ) {
          return -1;
        }
        p += 2;
        continue;
      }
      p++;
    }
    this.#escaped = escaped;
    return p + 1;
  }
}

/** Which wanted member a name [start, end) (quotes included) is; escaped names are decoded. */
function memberOf(b: Uint8Array, start: number, end: number, escaped: boolean): number {
  if (escaped) {
    const name = JSON.parse(
      Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8'),
    ) as string;
    return name === 'id'
      ? F_ID
      : name === 'key'
        ? F_KEY
        : name === 'source'
          ? F_SOURCE
          : name === 'ts'
            ? F_TS
            : NONE;
  }
  const length = end - start - 2;
  const c = b[start + 1];
  if (length === 2) {
    if (c === 0x69 && b[start + 2] === 0x64) return F_ID;
    if (c === 0x74 && b[start + 2] === 0x73) return F_TS;
  } else if (length === 3) {
    if (c === 0x6b && b[start + 2] === 0x65 && b[start + 3] === 0x79) return F_KEY;
  } else if (length === 6 && c === 0x73) {
    if (
      b[start + 2] === 0x6f &&
      b[start + 3] === 0x75 &&
      b[start + 4] === 0x72 &&
      b[start + 5] === 0x63 &&
      b[start + 6] === 0x65
    ) {
      return F_SOURCE;
    }
  }
  return NONE;
}

/**
 * A number at p; returns the offset after it, or -1.
 *
 * Every step is one that every number takes — an addition of 0 or 1, a run of digits that may be
 * empty — rather than a `p++` or a call in a branch that few numbers take (a minus sign, a leading
 * zero, a fraction in integer data, an exponent). V8 compiles the scanner once it is hot, and an
 * operation it has never seen run has no type feedback: the first number to take such a branch
 * afterwards threw the worker's compiled `scan` away (`--trace-deopt`: "Insufficient type feedback
 * for unary operation" at the leading zero of `0.83`, one line in ~500 of the bench's file) and
 * cost a second compilation of it, 18–44 ms of a compiler thread on two shared CPUs.
 */
function number(b: Uint8Array, p: number, end: number): number {
  p += b[p] === MINUS ? 1 : 0;
  if (p >= end) return -1;
  const first = b[p]!;
  if (!isDigit(first)) return -1;
  // A leading zero is the whole integer part: `01` stops after the 0, and the caller refuses the 1.
  const afterFirst = p + 1;
  p = digits(b, afterFirst, first === ZERO ? afterFirst : end);
  // A fraction: a dot and at least one digit.
  const dot = p < end && b[p] === DOT ? 1 : 0;
  const fraction = p + dot;
  p = digits(b, fraction, dot === 1 ? end : fraction);
  if (p - fraction < dot) return -1;
  // An exponent: `e` or `E`, a sign or none, at least one digit.
  const e = p < end && (b[p] === 0x65 || b[p] === 0x45) ? 1 : 0;
  p += e;
  p += p < end && (b[p] === PLUS || b[p] === MINUS) ? e : 0;
  const exponent = p;
  p = digits(b, exponent, e === 1 ? end : exponent);
  if (p - exponent < e) return -1;
  return p;
}

/** An ASCII digit (a character code or a byte). */
export function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** The offset after the run of digits at p. */
function digits(b: Uint8Array, p: number, end: number): number {
  while (p < end && isDigit(b[p]!)) p++;
  return p;
}

function literal(b: Uint8Array, p: number, end: number, rest: readonly number[]): number {
  p++;
  if (p + rest.length > end) return -1;
  for (const c of rest) if (b[p++] !== c) return -1;
  return p;
}
