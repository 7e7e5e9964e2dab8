import { describe, expect, it } from 'vitest';
import { columnText, encodeMappedRows, epochMsAsIso } from '../../src/sinks/postgres-mapped-copy.js';

/** The rows of a binary COPY of `(seq int4, text…)`, read back field by field. */
function decode(buffer: Buffer): { seq: number; texts: (string | null)[] }[] {
  expect(buffer.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  let at = 19;
  const rows: { seq: number; texts: (string | null)[] }[] = [];
  for (;;) {
    const fields = buffer.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    expect(buffer.readInt32BE(at)).toBe(4);
    const seq = buffer.readInt32BE(at + 4);
    at += 8;
    const texts: (string | null)[] = [];
    for (let f = 1; f < fields; f++) {
      const length = buffer.readInt32BE(at);
      at += 4;
      if (length === -1) texts.push(null);
      else {
        texts.push(buffer.toString('utf8', at, at + length));
        at += length;
      }
    }
    rows.push({ seq, texts });
  }
  expect(at).toBe(buffer.length);
  return rows;
}

describe('mapped values as COPY text', () => {
  it('spells each kind of value as its column converts it', () => {
    expect(columnText({ kind: 'null' }, 'plain')).toBeNull();
    expect(columnText({ kind: 'string', value: 'a\tb' }, 'plain')).toBe('a\tb');
    expect(columnText({ kind: 'string', value: 'say "hi"' }, 'json')).toBe('"say \\"hi\\""');
    expect(columnText({ kind: 'number', text: '12345678901234567890' }, 'plain')).toBe(
      '12345678901234567890',
    );
    expect(columnText({ kind: 'number', text: '19.990000000000000001' }, 'json')).toBe(
      '19.990000000000000001',
    );
    expect(columnText({ kind: 'boolean', value: false }, 'plain')).toBe('false');
    expect(columnText({ kind: 'json', text: '{"a": [1, 2.50]}' }, 'json')).toBe('{"a": [1, 2.50]}');
    expect(columnText({ kind: 'number', text: '0' }, 'time')).toBe('1970-01-01T00:00:00.000Z');
    expect(columnText({ kind: 'string', value: '2024-02-29' }, 'time')).toBe('2024-02-29');
  });

  it('reads a number for a time column as epoch milliseconds, to the microsecond', () => {
    expect(epochMsAsIso('1700000000123')).toBe('2023-11-14T22:13:20.123Z');
    expect(epochMsAsIso('1700000000123.456')).toBe('2023-11-14T22:13:20.123456Z');
    expect(epochMsAsIso('-1.5')).toBe('1969-12-31T23:59:59.998500Z');
    // Beyond what a Date holds: left as written, for the server to refuse with its own message.
    expect(epochMsAsIso('1e300')).toBe('1e300');
  });

  it('encodes rows with their place in the batch, NULLs as length -1 and text as UTF-8', () => {
    const rows = [
      ['é ✓', null],
      ['', 'line\nbreak \\ tab\t'],
    ];
    expect(decode(encodeMappedRows(rows, 2))).toEqual([
      { seq: 0, texts: ['é ✓', null] },
      { seq: 1, texts: ['', 'line\nbreak \\ tab\t'] },
    ]);
    expect(decode(encodeMappedRows([], 3))).toEqual([]);
  });
});
