import type { ColumnValue } from './column-mapping.js';

/** How a column's values are spelled as the text its type converts from. */
export type ColumnSpelling = 'plain' | 'json' | 'time';

/**
 * A value as the text its column converts from, or null for NULL: strings as they are, numbers as
 * they were written, booleans `true`/`false`, objects and arrays as their JSON text. A `json`
 * column takes a string as a JSON string; a `time` column (timestamp, timestamptz, date) takes a
 * number as epoch milliseconds.
 */
export function columnText(value: ColumnValue, spelling: ColumnSpelling): string | null {
  switch (value.kind) {
    case 'null':
      return null;
    case 'string':
      return spelling === 'json' ? JSON.stringify(value.value) : value.value;
    case 'boolean':
      return value.value ? 'true' : 'false';
    case 'json':
      return value.text;
    default:
      return spelling === 'time' ? epochMsAsIso(value.text) : value.text;
  }
}

/**
 * Epoch milliseconds (sub-millisecond digits kept to the microsecond, PostgreSQL's precision) as
 * an ISO 8601 UTC time; a number no Date holds is left as written, for the server to refuse.
 */
export function epochMsAsIso(text: string): string {
  const micros = epochMicros(text);
  if (micros === undefined) return text;
  let ms = micros / 1000n;
  let rest = micros % 1000n;
  if (rest < 0n) {
    ms -= 1n;
    rest += 1000n;
  }
  const iso = new Date(Number(ms)).toISOString();
  return rest === 0n ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}

/** A JSON number's sign, digits before and after the point, and exponent. */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
/** The furthest a Date reaches either side of the epoch, in microseconds (8.64e15 ms). */
const DATE_LIMIT_MICROS = 8_640_000_000_000_000_000n;

/**
 * The microsecond an epoch-milliseconds number falls on, rounded to the nearest, a half towards
 * the later one; undefined for a text no Date holds. Worked out from the decimal digits as written,
 * not from a double: one holds today's epoch milliseconds to about a quarter of a microsecond
 * (1700000000123.0005 reads as …123.000488, which rounds down), and rounding its fraction apart
 * from its whole milliseconds lost the carry when .9995 or more rounds up to the next millisecond
 * (1.9996 was stored as .001).
 */
function epochMicros(text: string): bigint | undefined {
  const parts = DECIMAL.exec(text);
  if (parts === null) return undefined;
  const [, sign, whole, fraction = '', exponent = '0'] = parts;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return 0n;
  // The value is digits × 10^shift µs: `point` of its digits are whole microseconds.
  const shift = Number(exponent) - fraction.length + 3;
  const point = digits.length + shift;
  if (point > 19) return undefined;
  // Less than a tenth of a microsecond: no digit reaches it.
  if (point < 0) return 0n;
  const wholeMicros = BigInt(shift >= 0 ? `${digits}${'0'.repeat(shift)}` : digits.slice(0, point) || '0');
  // Only the first digit past the microsecond, and whether any after it is not 0, decide the
  // rounding: up from .5 for a later time, for an earlier one (negative) only past .5.
  const next = shift >= 0 ? 0 : Number(digits[point] ?? '0');
  const more = shift < 0 && /[1-9]/.test(digits.slice(point + 1));
  const micros =
    sign === '-'
      ? -wholeMicros - (next > 5 || (next === 5 && more) ? 1n : 0n)
      : wholeMicros + (next >= 5 ? 1n : 0n);
  return micros > DATE_LIMIT_MICROS || micros < -DATE_LIMIT_MICROS ? undefined : micros;
}

/**
 * Rows for `COPY table (columns) FROM STDIN` in PostgreSQL's text format: fields separated by tabs,
 * NULL as `\N`, backslash, tab, newline and carriage return escaped. Each column's type reads its
 * field with the same input function a cast from text uses. `numbered`: each row opens with its
 * place in the batch, for the staging table's `seq`.
 */
export function encodeMappedText(rows: readonly (readonly (string | null)[])[], numbered = false): Buffer {
  let out = '';
  for (let seq = 0; seq < rows.length; seq++) {
    const row = rows[seq]!;
    if (numbered) out += `${seq}\t`;
    for (let i = 0; i < row.length; i++) {
      if (i > 0) out += '\t';
      const text = row[i] ?? null;
      out += text === null ? '\\N' : COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, escapeCopy) : text;
    }
    out += '\n';
  }
  return Buffer.from(out, 'utf8');
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escapeCopy = (c: string) => COPY_ESCAPES[c]!;
