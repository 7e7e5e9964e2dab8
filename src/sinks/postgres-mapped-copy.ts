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
  const ms = Number(text);
  const whole = Math.floor(ms);
  const date = new Date(whole);
  if (!Number.isFinite(ms) || Number.isNaN(date.getTime())) return text;
  const iso = date.toISOString();
  const micros = Math.round((ms - whole) * 1000);
  if (micros === 0 || micros >= 1000) return iso;
  return `${iso.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
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
