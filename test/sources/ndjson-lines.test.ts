import { describe, expect, it } from 'vitest';
import { type Lines, PendingLines } from '../../src/sources/ndjson-lines.js';

/** Each batch as the lines it holds, as text, with their offsets and numbers. */
function shown(batches: Lines[]): { bytes: string; lines: [string, number, number][] }[] {
  return batches.map((b) => ({
    bytes: b.bytes.toString('latin1', 0, 8),
    lines: b.starts.map((start, i) => [
      b.bytes.toString('latin1', start, b.ends[i]),
      b.offsets[i]!,
      b.numbers[i]!,
    ]),
  }));
}

describe('PendingLines', () => {
  it('groups lines by the buffer they lie in, in order, leaving blank ones out and CRs off', () => {
    const a = Buffer.from('{"a":1}\n   \n{"a":2}\r\n');
    const b = Buffer.from('{"b":1}\n');
    const pending = new PendingLines();
    pending.add(a, 0, 7, 100, 1);
    pending.add(a, 8, 11, 108, 2);
    pending.add(a, 12, 20, 112, 3);
    pending.add(b, 0, 7, 122, 4);
    expect(shown(pending.take())).toEqual([
      {
        bytes: '{"a":1}\n',
        lines: [
          ['{"a":1}', 100, 1],
          ['{"a":2}', 112, 3],
        ],
      },
      { bytes: '{"b":1}\n', lines: [['{"b":1}', 122, 4]] },
    ]);
    expect(pending.take()).toEqual([]);
  });

  it('starts a new batch after take(), even for lines of the same buffer (a buffer read into again)', () => {
    const buffer = Buffer.from('{"n":1}\n{"n":2}\n');
    const pending = new PendingLines();
    pending.add(buffer, 0, 7, 0, 1);
    const first = pending.take();
    pending.add(buffer, 8, 15, 8, 2);
    expect(shown(first)).toEqual([{ bytes: '{"n":1}\n', lines: [['{"n":1}', 0, 1]] }]);
    expect(shown(pending.take())).toEqual([{ bytes: '{"n":1}\n', lines: [['{"n":2}', 8, 2]] }]);
  });
});
