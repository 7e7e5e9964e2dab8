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
 * Rows for a staging table `(seq int4, c0 text, c1 text, …)` in PostgreSQL's binary COPY format
 * (see postgres-copy.ts for its layout): `seq` is the row's place in the batch, each text field
 * its UTF-8 bytes, nothing escaped.
 */
export function encodeMappedRows(rows: readonly (readonly (string | null)[])[], width: number): Buffer {
  const fields = width + 1;
  let size = HEADER.length + TRAILER_BYTES + rows.length * (2 + 4 + 4 + width * 4);
  for (const row of rows) for (const text of row) if (text !== null) size += Buffer.byteLength(text, 'utf8');
  const buffer = Buffer.allocUnsafe(size) as Utf8Buffer;
  HEADER.copy(buffer, 0);
  let at = HEADER.length;
  for (let seq = 0; seq < rows.length; seq++) {
    at = buffer.writeInt16BE(fields, at);
    at = buffer.writeInt32BE(4, at);
    at = buffer.writeInt32BE(seq, at);
    for (const text of rows[seq]!) {
      if (text === null) at = buffer.writeInt32BE(NULL_LENGTH, at);
      else {
        const written = buffer.utf8Write(text, at + 4, size - at - 4);
        buffer.writeInt32BE(written, at);
        at += 4 + written;
      }
    }
  }
  buffer.writeInt16BE(-1, at);
  return buffer;
}

/**
 * Rows for `COPY table (columns) FROM STDIN` in PostgreSQL's text format, straight into the user's
 * table: fields separated by tabs, NULL as `\N`, backslash, tab, newline and carriage return
 * escaped. Each column's type reads its field with the same input function a cast from text uses.
 */
export function encodeMappedText(rows: readonly (readonly (string | null)[])[]): Buffer {
  let out = '';
  for (const row of rows) {
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

/** Buffer's own UTF-8 writer, as the record codec uses it (see record-codec.ts). */
interface Utf8Buffer extends Buffer {
  utf8Write(value: string, offset: number, length: number): number;
}

const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const TRAILER_BYTES = 2;
const NULL_LENGTH = -1;
