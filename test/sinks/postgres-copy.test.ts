import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { encodeCopyBatch } from '../../src/sinks/postgres-copy.js';

/** Reads a binary COPY stream back: the rows' fields, NULL as null, float8 as a number. */
function decode(buffer: Buffer): (string | number | null)[][] {
  expect(buffer.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(buffer.readInt32BE(11)).toBe(0);
  expect(buffer.readInt32BE(15)).toBe(0);
  let at = 19;
  const rows: (string | number | null)[][] = [];
  for (;;) {
    const fields = buffer.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    expect(fields).toBe(5);
    const row: (string | number | null)[] = [];
    for (let f = 0; f < fields; f++) {
      const length = buffer.readInt32BE(at);
      at += 4;
      if (length === -1) row.push(null);
      else if (f === 3) {
        expect(length).toBe(8);
        row.push(buffer.readDoubleBE(at));
      } else if (f === 4) {
        expect(buffer[at]).toBe(1);
        row.push(buffer.subarray(at + 1, at + length).toString('utf8'));
      } else row.push(buffer.subarray(at, at + length).toString('utf8'));
      if (length > 0) at += length;
    }
    rows.push(row);
  }
  expect(at).toBe(buffer.length);
  return rows;
}

describe('encodeCopyBatch', () => {
  it('writes every field of every record, NULL for what is missing, the payload JSON as given', () => {
    const records: SinkRecord[] = [
      {
        id: 'a',
        key: 'k',
        source: 's',
        ts: 1700000000123.5,
        payload: null,
        payloadJson: '{"n":12345678901234567890}',
      },
      { id: 'b', payload: { x: 1 } },
      { id: 'é€😀', key: 'tab\there', payload: 'line\nbreak \\ backslash', ts: -0.25 },
      { id: 'empty', key: '', source: '', payload: [] },
    ];
    expect(decode(encodeCopyBatch(records))).toEqual([
      ['a', 'k', 's', 1700000000123.5, '{"n":12345678901234567890}'],
      ['b', null, null, null, '{"x":1}'],
      ['é€😀', 'tab\there', null, -0.25, JSON.stringify('line\nbreak \\ backslash')],
      ['empty', '', '', null, '[]'],
    ]);
  });

  it('encodes an empty batch as the header and the trailer alone', () => {
    expect(decode(encodeCopyBatch([]))).toEqual([]);
  });

  it('refuses a record whose payload cannot be written as JSON, as a per-record error', () => {
    expect(() => encodeCopyBatch([{ id: 'big', payload: { n: 1n } }])).toThrow(
      expect.objectContaining({ code: 'SLUICE_SINK_ERROR', perRecord: true, retryable: false }),
    );
  });
});
