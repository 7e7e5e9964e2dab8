import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RecordView, SluiceEvent } from '../../src/codec/event.js';
import { UUIDV7_BYTES, uuidv7, writeUuidv7 } from '../../src/codec/uuid-v7.js';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { SluiceError } from '../../src/errors.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';
import {
  type PreparedRecord,
  payloadText,
  prepareEvent,
  prepareRaw,
  readRecord,
  writeRecord,
} from '../../src/queue/record-codec.js';
import { RESERVE_FULL, Ring } from '../../src/queue/ring-buffer.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { forEachRecord } from '../../src/queue/ring-reader.js';
import { alignUp, lapRecords, RECORD_OVERHEAD } from '../queue/ring-harness.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_RECORD_BYTES = 64 * 1024;

const utf8 = (value: string) => Buffer.byteLength(value, 'utf8');

/** Any string of whole code points, astral ones included (no lone surrogates). */
const text = (maxLength = 40) => fc.string({ unit: 'binary', maxLength });

/** Ids of 1..255 UTF-8 bytes, mixing ASCII, BMP and astral characters. */
const idArb = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
    fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 255 }),
    fc.integer({ min: 1, max: 255 }).map((n) => 'x'.repeat(n)),
    fc.integer({ min: 1, max: 63 }).map((n) => '😀'.repeat(n)),
  )
  .filter((id) => utf8(id) >= 1 && utf8(id) <= 255);

/** JSON-serialisable payloads: nested objects and arrays with unicode keys and strings, or bare strings. */
const payloadArb = fc.oneof(
  fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }),
  fc.dictionary(text(10), fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }), { maxKeys: 6 }),
  text(200),
  fc.constant(''),
  fc.constant({ a: { b: { c: [1, '', { d: '𝄞' }] } } }),
);

const tsArb = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 48 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const eventArb: fc.Arbitrary<SluiceEvent> = fc.record(
  { id: idArb, key: text(), source: text(), ts: tsArb, payload: payloadArb },
  { requiredKeys: ['payload'] },
);

interface ReadBackRecord {
  view: RecordView;
  text: string;
  bytes: Buffer;
}

/**
 * Writes prepared records into the ring as one publish group, claims them, reads every record back
 * (copying its payload bytes) and only then releases the range, since release zeroes the space.
 */
function roundTrip(consumer: RingConsumer, records: PreparedRecord[], enqueuedAt: number): ReadBackRecord[] {
  const ring = consumer.ring;
  const bytes = records.reduce((sum, r) => sum + r.size, 0);
  const cursor = ring.tryReserve(bytes);
  if (cursor === RESERVE_FULL) throw new Error('test ring unexpectedly full');
  let at = ring.offsetOf(cursor);
  for (const record of records) {
    writeRecord(ring, at, record, enqueuedAt);
    at += record.size;
  }
  ring.publish(cursor, bytes, records.length);
  const range = consumer.claim(lapRecords(ring), Number.MAX_SAFE_INTEGER);
  if (range === null) throw new Error('published group not claimable');
  expect(range.records).toBe(records.length);
  const out: ReadBackRecord[] = [];
  forEachRecord(ring, range.start, range.end, (offset) => {
    const view = readRecord(ring, offset);
    out.push({
      view,
      text: payloadText(ring, view),
      bytes: Buffer.from(ring.data.slice(view.payloadOffset, view.payloadOffset + view.payloadLength)),
    });
  });
  consumer.release(range.end, range.records);
  expect(out).toHaveLength(records.length);
  return out;
}

function expectSluiceError(fn: () => unknown, code: string, field?: string): SluiceError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected an error to be thrown').toBeInstanceOf(SluiceError);
  const error = caught as SluiceError & { field?: string };
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

describe('record codec round trip', () => {
  // One ring for the whole property: records land at ever-changing offsets, wrap included.
  const ring = Ring.create(256 * 1024);
  const consumer = new RingConsumer(ring);

  it('any event written into a ring reads back with the same id, key, source, ts and payload', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 8 }), (events) => {
        const prepared = events.map((event) => prepareEvent(event, MAX_RECORD_BYTES));
        const enqueuedAt = 1_700_000_000_000.25;
        const back = roundTrip(consumer, prepared, enqueuedAt);
        events.forEach((event, i) => {
          const { view, text: payload } = back[i]!;
          const json = JSON.stringify(event.payload);
          if (event.id === undefined) expect(view.id).toMatch(UUID_V7);
          else expect(view.id).toBe(event.id);
          expect(view.id).toBe(prepared[i]!.id);
          expect(view.key).toBe(event.key);
          expect(view.source).toBe(event.source);
          if (event.ts === undefined) expect(view.ts).toBeUndefined();
          else expect(Object.is(view.ts, event.ts)).toBe(true);
          expect(view.raw).toBe(false);
          expect(view.enqueuedAt).toBe(enqueuedAt);
          expect(view.payloadLength).toBe(utf8(json));
          expect(payload).toBe(json);
          expect(JSON.parse(payload)).toEqual(JSON.parse(json));
          const expectedSize = alignUp(
            RECORD_OVERHEAD + utf8(view.id) + utf8(event.key ?? '') + utf8(event.source ?? '') + utf8(json),
          );
          expect(prepared[i]!.size).toBe(expectedSize);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('empty payload strings, empty keys and empty sources survive as themselves, not as absent', () => {
    const event: SluiceEvent = { id: 'e', key: '', source: '', ts: 0, payload: '' };
    const [{ view, text: payload }] = roundTrip(consumer, [prepareEvent(event, MAX_RECORD_BYTES)], 1) as [
      ReadBackRecord,
    ];
    expect(view.key).toBe('');
    expect(view.source).toBe('');
    expect(view.ts).toBe(0);
    expect(payload).toBe('""');
  });

  it('a raw record (string or bytes) reads back byte for byte, flagged raw, with a fresh UUIDv7 id and its key', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          text(300),
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue({ stringUnit: 'binary' }).map((v) => JSON.stringify(v) ?? 'null'),
        ),
        fc.option(text(), { nil: undefined }),
        (raw, key) => {
          const prepared = prepareRaw(raw, key, MAX_RECORD_BYTES);
          const [{ view, bytes }] = roundTrip(consumer, [prepared], 2) as [ReadBackRecord];
          const expected = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw);
          expect(bytes.equals(expected)).toBe(true);
          expect(view.raw).toBe(true);
          expect(view.id).toMatch(UUID_V7);
          expect(view.id).toBe(prepared.id);
          expect(view.key).toBe(key);
          expect(view.source).toBeUndefined();
          expect(view.ts).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('an id of exactly 255 UTF-8 bytes is accepted and read back whole', () => {
    const id = `${'é'.repeat(127)}x`;
    expect(utf8(id)).toBe(255);
    const [{ view }] = roundTrip(consumer, [prepareEvent({ id, payload: 1 }, MAX_RECORD_BYTES)], 3) as [
      ReadBackRecord,
    ];
    expect(view.id).toBe(id);
  });

  it('a key and a source of 65 535 UTF-8 bytes each (the largest) read back whole beside the id, ts and flags', () => {
    const big = Ring.create(1024 * 1024);
    const key = `${'k'.repeat(65_533)}é`;
    const source = `${'ü'.repeat(32_767)}s`;
    expect([utf8(key), utf8(source)]).toEqual([65_535, 65_535]);
    const event = { id: 'big-1', key, source, ts: 1_732_800_000_123.5, payload: { n: 1 } };
    const [{ view, text }] = roundTrip(new RingConsumer(big), [prepareEvent(event, 256 * 1024)], 7.25) as [
      ReadBackRecord,
    ];
    expect(view).toMatchObject({
      id: 'big-1',
      key,
      source,
      ts: event.ts,
      raw: false,
      enqueuedAt: 7.25,
    });
    expect(text).toBe('{"n":1}');
  });
});

describe('invalid events', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;

  const cases: { name: string; event: unknown; field: string }[] = [
    { name: 'a BigInt payload', event: { payload: { n: 10n } }, field: 'payload' },
    { name: 'a cyclic payload', event: { payload: cyclic }, field: 'payload' },
    { name: 'an undefined payload', event: { payload: undefined }, field: 'payload' },
    { name: 'a missing payload', event: { id: 'a' }, field: 'payload' },
    { name: 'a function payload', event: { payload: () => 1 }, field: 'payload' },
    { name: 'a numeric id', event: { id: 42, payload: 1 }, field: 'id' },
    { name: 'an empty id', event: { id: '', payload: 1 }, field: 'id' },
    { name: 'an id of 128 × "é" (256 UTF-8 bytes)', event: { id: 'é'.repeat(128), payload: 1 }, field: 'id' },
    { name: 'an ASCII id of 256 bytes', event: { id: 'a'.repeat(256), payload: 1 }, field: 'id' },
    { name: 'a numeric key', event: { key: 7, payload: 1 }, field: 'key' },
    { name: 'an object key', event: { key: { k: 1 }, payload: 1 }, field: 'key' },
    { name: 'a numeric source', event: { source: 7, payload: 1 }, field: 'source' },
    { name: 'a NaN ts', event: { ts: Number.NaN, payload: 1 }, field: 'ts' },
    { name: 'an infinite ts', event: { ts: Number.POSITIVE_INFINITY, payload: 1 }, field: 'ts' },
    { name: 'a string ts', event: { ts: '2024-01-01', payload: 1 }, field: 'ts' },
  ];

  for (const { name, event, field } of cases) {
    it(`${name} is rejected with SLUICE_INVALID_EVENT naming event.${field}`, () => {
      const error = expectSluiceError(
        () => prepareEvent(event as SluiceEvent, MAX_RECORD_BYTES),
        'SLUICE_INVALID_EVENT',
        field,
      );
      expect(error.message).toContain(`event.${field}`);
    });
  }

  it('each field is read once: a getter answering differently on a later read cannot slip past the check', () => {
    // A getter (or a Proxy) that gives a valid value to the check and another to the write.
    const reads = { id: 0, key: 0, source: 0, ts: 0, payload: 0 };
    const event = {
      get id() {
        return reads.id++ === 0 ? 'e1' : 42;
      },
      get key() {
        return reads.key++ === 0 ? 'k' : 7;
      },
      get source() {
        return reads.source++ === 0 ? 's' : 7;
      },
      get ts() {
        return reads.ts++ === 0 ? 1_700_000_000_000 : 'later';
      },
      get payload() {
        return reads.payload++ === 0 ? { a: 1 } : 10n;
      },
    } as unknown as SluiceEvent;
    const record = prepareEvent(event, MAX_RECORD_BYTES);
    expect(reads).toEqual({ id: 1, key: 1, source: 1, ts: 1, payload: 1 });
    const ring = Ring.create(4096);
    writeRecord(ring, 0, record, 0);
    const view = readRecord(ring, 0);
    expect({ id: view.id, key: view.key, source: view.source, ts: view.ts }).toEqual({
      id: 'e1',
      key: 'k',
      source: 's',
      ts: 1_700_000_000_000,
    });
    expect(payloadText(ring, view)).toBe('{"a":1}');
  });

  for (const field of ['id', 'key', 'source', 'ts', 'payload'] as const) {
    it(`a ${field} getter that throws is SLUICE_INVALID_EVENT naming event.${field}, the thrown value its cause`, () => {
      const thrown = new RangeError('no such thing');
      const event = { id: 'e1', payload: 1 };
      Object.defineProperty(event, field, {
        get() {
          throw thrown;
        },
      });
      const error = expectSluiceError(
        () => prepareEvent(event as SluiceEvent, MAX_RECORD_BYTES),
        'SLUICE_INVALID_EVENT',
        field,
      );
      expect(error.message).toContain(`event.${field} cannot be read: no such thing`);
      expect(error.cause).toBe(thrown);
    });
  }

  it('a Proxy whose trap throws a value that is no Error, and a revoked Proxy, are refused naming the field', () => {
    const trap = new Proxy({} as SluiceEvent, {
      get() {
        throw 'nope';
      },
    });
    expect(
      expectSluiceError(() => prepareEvent(trap, MAX_RECORD_BYTES), 'SLUICE_INVALID_EVENT', 'id').message,
    ).toContain('event.id cannot be read: "nope"');
    const { proxy, revoke } = Proxy.revocable({ id: 'e1', payload: 1 }, {});
    revoke();
    expectSluiceError(
      () => prepareEvent(proxy as SluiceEvent, MAX_RECORD_BYTES),
      'SLUICE_INVALID_EVENT',
      'id',
    );
  });

  it('an id of 100 × "é" (200 UTF-8 bytes) is accepted', () => {
    expect(prepareEvent({ id: 'é'.repeat(100), payload: 1 }, MAX_RECORD_BYTES).idBytes).toBe(200);
  });

  it('a non-string raw key is rejected naming event.key', () => {
    expectSluiceError(
      () => prepareRaw('{}', 5 as unknown as string, MAX_RECORD_BYTES),
      'SLUICE_INVALID_EVENT',
      'key',
    );
  });

  it('a non-object event is rejected with SLUICE_INVALID_EVENT', () => {
    expectSluiceError(
      () => prepareEvent(null as unknown as SluiceEvent, MAX_RECORD_BYTES),
      'SLUICE_INVALID_EVENT',
    );
    expectSluiceError(
      () => prepareEvent('x' as unknown as SluiceEvent, MAX_RECORD_BYTES),
      'SLUICE_INVALID_EVENT',
    );
  });
});

describe('raw bytes that misstate their size', () => {
  /** A Uint8Array whose byteLength says it holds two bytes, whatever it holds. */
  class LyingBytes extends Uint8Array {
    override get byteLength(): number {
      return 2;
    }
  }

  it('a Uint8Array whose byteLength lies is written as the bytes it holds, and the records after it stay whole', () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
    const producer = new QueueProducer(queue);
    const line = Buffer.from(JSON.stringify({ id: 'lying', pad: 'x'.repeat(300) }));
    const lying = new LyingBytes(line.length);
    lying.set(line);
    expect(producer.pushRaw(lying)).toBe(true);
    expect(producer.pushMany([1, 2, 3].map((i) => ({ id: `after-${i}`, payload: { i } })))).toBe(3);

    const ring = queue.rings[0]!;
    const range = new RingConsumer(ring).claim(100, 4096)!;
    const read: { id: string; text: string }[] = [];
    forEachRecord(ring, range.start, range.end, (at) => {
      const view = readRecord(ring, at);
      read.push({ id: view.id, text: payloadText(ring, view) });
    });
    expect(read.length).toBe(4);
    expect(read[0]!.text).toBe(line.toString());
    expect(read.slice(1)).toEqual([1, 2, 3].map((i) => ({ id: `after-${i}`, text: `{"i":${i}}` })));
  });

  it('a Proxy of a Uint8Array is refused as raw bytes with SLUICE_INVALID_EVENT, writing nothing', () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
    const proxy = new Proxy(Buffer.from('{"a":1}'), {});
    expectSluiceError(() => new QueueProducer(queue).pushRaw(proxy), 'SLUICE_INVALID_EVENT', '(raw)');
    expect(queue.stats().recordsWritten).toBe(0);
  });
});

describe('records larger than maxRecordBytes', () => {
  const bigPayload = 'z'.repeat(2000); // record ≈ 2 KiB, over the 1 KiB limit of a 4 KiB ring

  it('prepareEvent and prepareRaw throw RecordTooLargeError with the sizes involved', () => {
    const error = expectSluiceError(
      () => prepareEvent({ id: 'big', payload: bigPayload }, 1024),
      'SLUICE_RECORD_TOO_LARGE',
    ) as SluiceError & { recordBytes: number; maxRecordBytes: number };
    expect(error.recordBytes).toBe(alignUp(RECORD_OVERHEAD + 3 + 2002));
    expect(error.maxRecordBytes).toBe(1024);
    expect(error.message).toContain('1024');
    expectSluiceError(() => prepareRaw(bigPayload, undefined, 1024), 'SLUICE_RECORD_TOO_LARGE');
  });

  it('a record of exactly maxRecordBytes is accepted and one byte more is not', () => {
    // 48 header + 1 id + (n + 2) payload = 1024 → n = 973.
    expect(prepareEvent({ id: 'a', payload: 'p'.repeat(973) }, 1024).size).toBe(1024);
    expectSluiceError(
      () => prepareEvent({ id: 'a', payload: 'p'.repeat(974) }, 1024),
      'SLUICE_RECORD_TOO_LARGE',
    );
  });

  it('pushing a too-large record through QueueProducer writes nothing to the ring', () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
    const producer = new QueueProducer(queue);
    expectSluiceError(() => producer.push({ id: 'big', payload: bigPayload }), 'SLUICE_RECORD_TOO_LARGE');
    expectSluiceError(() => producer.pushRaw(bigPayload), 'SLUICE_RECORD_TOO_LARGE');
    expectSluiceError(
      () =>
        producer.pushMany([
          { id: 'ok1', payload: 1 },
          { id: 'ok2', payload: 2 },
          { id: 'big', payload: bigPayload },
        ]),
      'SLUICE_RECORD_TOO_LARGE',
    );
    const stats = queue.stats();
    expect(stats.recordsWritten).toBe(0);
    expect(stats.depthBytes).toBe(0);
    expect(queue.rings[0]!.usedBytes()).toBe(0);
  });

  it('pushing a too-large record through AsyncQueueProducer rejects and writes nothing to the ring', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
    const producer = new AsyncQueueProducer(queue);
    for (const push of [
      () => producer.push({ id: 'big', payload: bigPayload }),
      () => producer.pushRaw(bigPayload),
      () => producer.pushRawMany(['{}', bigPayload]),
      () =>
        producer.pushMany([
          { id: 'ok', payload: 1 },
          { id: 'big', payload: bigPayload },
        ]),
    ]) {
      await expect((async () => push())()).rejects.toMatchObject({ code: 'SLUICE_RECORD_TOO_LARGE' });
    }
    const stats = queue.stats();
    expect(stats.recordsWritten).toBe(0);
    expect(stats.depthBytes).toBe(0);
    expect(queue.rings[0]!.usedBytes()).toBe(0);
  });

  it('an invalid event anywhere in pushMany writes none of the batch', () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
    const producer = new QueueProducer(queue);
    expectSluiceError(
      () =>
        producer.pushMany([
          { id: 'ok', payload: 1 },
          { id: 'bad', payload: 1n },
        ]),
      'SLUICE_INVALID_EVENT',
      'payload',
    );
    expect(queue.stats().recordsWritten).toBe(0);
    expect(queue.rings[0]!.usedBytes()).toBe(0);
  });
});

describe('uuidv7', () => {
  it('has the RFC 9562 layout: version 7 and variant 0b10', () => {
    for (let i = 0; i < 1000; i++) {
      const id = uuidv7();
      expect(id).toMatch(UUID_V7);
      const hex = id.replaceAll('-', '');
      expect(Number.parseInt(hex[12]!, 16)).toBe(7);
      expect(Number.parseInt(hex[16]!, 16) >> 2).toBe(0b10);
    }
  });

  it('carries the current Unix time in milliseconds in its first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const ms = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    // The 12-bit counter may borrow a few milliseconds ahead within a burst of ids.
    expect(ms).toBeLessThanOrEqual(after + 16);
  });

  it('10 000 ids from one thread are unique and strictly increasing', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!))
        throw new Error(`ids[${i - 1}] ${ids[i - 1]} is not below ids[${i}] ${ids[i]}`);
    }
  });

  it('writeUuidv7 writes the ids uuidv7 returns, as bytes, in the same sequence', () => {
    // Interleaved over 10 000 ids (more than the 4096 a millisecond's counter holds, so the
    // counter wraps and borrows the next millisecond): written and returned ids share one order,
    // whatever time the writer is given.
    const target = new Uint8Array(new SharedArrayBuffer(10_000 * UUIDV7_BYTES + 3));
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 3 === 0) ids.push(uuidv7());
      else {
        const at = 3 + i * UUIDV7_BYTES;
        // Every other written id at a time a minute back: a clock behind the last id's.
        writeUuidv7(target, at, i % 3 === 1 ? Date.now() : Date.now() - 60_000);
        ids.push(Buffer.from(target.buffer, at, UUIDV7_BYTES).toString('latin1'));
      }
    }
    // Nothing written outside each id's 36 bytes.
    expect([...target.subarray(0, 3)]).toEqual([0, 0, 0]);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!))
        throw new Error(`ids[${i - 1}] ${ids[i - 1]} is not below ids[${i}] ${ids[i]}`);
    }
  });
});
