import { describe, expect, it } from 'vitest';
import { readStandIn } from '../../src/codec/refused-record.js';
import { RecordTooLargeError } from '../../src/errors.js';
import { FLAG_REFUSED, recordSize } from '../../src/queue/record-codec.js';
import { RefusedRecord } from '../../src/queue/refused-record.js';

const event = {
  data: `{"pad":"${'x'.repeat(5000)}"}`,
  id: 'stream:1796162501635-0',
  key: 'k',
  source: 's'.repeat(300),
};

describe('RefusedRecord', () => {
  it('keeps the first KiB, its id, key and source when the limit allows', () => {
    const prepared = new RefusedRecord(event, 5100, 4096).prepare(4096);
    expect(prepared.flags & FLAG_REFUSED).toBe(FLAG_REFUSED);
    expect([prepared.id, prepared.key, prepared.source]).toEqual([event.id, event.key, event.source]);
    expect(readStandIn(prepared.payload as string)).toEqual({
      recordBytes: 5100,
      limit: 4096,
      limitName: 'queue.maxRecordBytes',
      head: event.data.slice(0, 1024),
    });
  });

  it('under a small limit shortens its head, then drops its key and source, keeping its id, so that it fits', () => {
    // Too small for the 300-byte source, large enough for the id and a few bytes of head.
    const prepared = new RefusedRecord(event, 5100, 128).prepare(128);
    expect(prepared.size).toBeLessThanOrEqual(128);
    expect(prepared.id).toBe(event.id);
    expect([prepared.key, prepared.source]).toEqual([undefined, undefined]);
    const standIn = readStandIn(prepared.payload as string);
    expect(standIn).toMatchObject({ recordBytes: 5100, limit: 128 });
    expect(event.data.startsWith(standIn.head)).toBe(true);
    expect(prepared.size).toBe(
      recordSize(Buffer.byteLength(event.id), 0, 0, Buffer.byteLength(prepared.payload as string)),
    );
  });

  it('refuses with RecordTooLargeError when not even its id and sizes fit', () => {
    expect(() => new RefusedRecord(event, 5100, 64).prepare(64)).toThrow(RecordTooLargeError);
  });
});
