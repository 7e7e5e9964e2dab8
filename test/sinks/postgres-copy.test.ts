import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { TextRecord } from '../../src/codec/text-record.js';
import { prng } from '../../src/harness/prng.js';
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

  it('round-trips every field over 300 random batches of hostile strings, times and payloads', () => {
    // Plain, escaped in JSON, NUL, multi-byte, astral, lone surrogates.
    const PIECES = 'aZ0 \t\n\\"\u0000é€ß'.split('').concat(['😀', '\ud800', '\udfff']);
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const text = (max: number): string =>
        Array.from({ length: Math.floor(random() * max) }, () => pick(PIECES)).join('');
      const maybe = (max: number): string | undefined => (random() < 0.3 ? undefined : text(max));
      const TIMES = [
        undefined,
        0,
        -0,
        1.5,
        -1e-300,
        1_732_800_000_000.25,
        Number.MAX_VALUE,
        -Number.MIN_VALUE,
      ];
      // TextRecords over one buffer of JSON texts, beside records whose payload is an object.
      const texts = Array.from({ length: 40 }, () => JSON.stringify({ s: text(30), n: random() * 1e6 }));
      const bytes = Buffer.from(texts.join(''));
      let at = 0;
      const records: SinkRecord[] = [];
      const expected: (string | number | null)[][] = [];
      // What the server reads back: UTF-8 of the string (a lone surrogate becomes U+FFFD).
      const utf8 = (value: string | undefined) =>
        value === undefined ? null : Buffer.from(value).toString('utf8');
      for (const [i, json] of texts.entries()) {
        const end = at + Buffer.byteLength(json);
        const id = `${text(6)}#${i}`;
        const key = maybe(8);
        const source = maybe(8);
        const ts = pick(TIMES);
        if (random() < 0.5) records.push(new TextRecord(id, key, source, ts, bytes, at, end));
        else records.push({ id, key, source, ts, payload: JSON.parse(json) as unknown });
        expected.push([utf8(id), utf8(key), utf8(source), ts ?? null, utf8(json)]);
        at = end;
      }
      const count = Math.floor(random() * records.length);
      expect(decode(encodeCopyBatch(records.slice(0, count))), `seed ${seed}`).toEqual(
        expected.slice(0, count),
      );
    }
  });
});
