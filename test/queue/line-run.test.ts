/**
 * pushLines: lines lying in one buffer reach the ring as raw records, each with the id and source
 * made of its prefix and number, byte for byte, in order — and a line too large for the queue
 * stops the whole batch before anything is written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';
import { payloadText, readRecord } from '../../src/queue/record-codec.js';
import { copyIntoRing } from '../../src/queue/record-run.js';
import { Ring } from '../../src/queue/ring-buffer.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { forEachRecord } from '../../src/queue/ring-reader.js';

function drain(queue: EventQueue) {
  const ring = queue.rings[0]!;
  const consumer = new RingConsumer(ring);
  const out: { id: string; key?: string; source?: string; raw: boolean; text: string }[] = [];
  for (let range = consumer.claim(1e6, 1 << 30); range; range = consumer.claim(1e6, 1 << 30)) {
    forEachRecord(ring, range.start, range.end, (at) => {
      const view = readRecord(ring, at);
      out.push({
        id: view.id,
        key: view.key,
        source: view.source,
        raw: view.raw,
        text: payloadText(ring, view),
      });
    });
    consumer.release(range.end, range.records);
  }
  return out;
}

describe('pushLines', () => {
  it('writes every line with its id and source, in order, whatever the bytes and numbers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { minLength: 1, maxLength: 60 }),
        fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 20 }), { nil: undefined }),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.array(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { minLength: 60, maxLength: 60 }),
        (texts, idPrefix, sourcePrefix, numbers) => {
          const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 1 << 20 }));
          // The lines lie in one buffer, separated by newlines, as a read would hold them.
          const bytes = Buffer.from(`${texts.join('\n')}\n`);
          const starts: number[] = [];
          const ends: number[] = [];
          let at = 0;
          for (const text of texts) {
            starts.push(at);
            at += Buffer.byteLength(text);
            ends.push(at);
            at++;
          }
          const accepted = new QueueProducer(queue).pushLines({
            bytes,
            starts,
            ends,
            ...(idPrefix === undefined ? {} : { idPrefix, idNumbers: numbers }),
            sourcePrefix,
            sourceNumbers: numbers.slice().reverse(),
          });
          expect(accepted).toBe(texts.length);
          const records = drain(queue);
          expect(records.map((r) => r.text)).toEqual(texts);
          expect(records.every((r) => r.raw)).toBe(true);
          expect(records.map((r) => r.source)).toEqual(
            texts.map((_, i) => `${sourcePrefix}${numbers[59 - i]}`),
          );
          if (idPrefix !== undefined)
            expect(records.map((r) => r.id)).toEqual(texts.map((_, i) => `${idPrefix}${numbers[i]}`));
          else {
            // Fallback ids, written as bytes at each group's time: UUIDv7s, distinct, increasing.
            const ids = records.map((r) => r.id);
            for (const id of ids)
              expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
            for (let i = 1; i < ids.length; i++) expect(ids[i - 1]! < ids[i]!).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a batch holding a line too large for the queue, writing none of it', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 1 << 16, maxRecordBytes: 1024 }));
    const bytes = Buffer.from(`{"a":1}\n${'x'.repeat(2000)}\n`);
    const producer = new AsyncQueueProducer(queue);
    await expect(producer.pushLines({ bytes, starts: [0, 8], ends: [7, 2008] })).rejects.toMatchObject({
      code: 'SLUICE_RECORD_TOO_LARGE',
    });
    expect(drain(queue)).toEqual([]);
    expect(await producer.pushLines({ bytes, starts: [0], ends: [7], key: 'k' })).toBe(1);
    expect(drain(queue)).toMatchObject([{ text: '{"a":1}', key: 'k' }]);
  });

  it('refuses an id prefix or source prefix that is not well-formed, naming it', () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 1 << 16 }));
    const bytes = Buffer.from('{}');
    expect(() =>
      new QueueProducer(queue).pushLines({
        bytes,
        starts: [0],
        ends: [2],
        idPrefix: 'x\ud800',
        idNumbers: [1],
      }),
    ).toThrow(/event\.id must be well-formed/);
    expect(() =>
      new QueueProducer(queue).pushLines({
        bytes,
        starts: [0],
        ends: [2],
        sourcePrefix: '\udc00',
        sourceNumbers: [1],
      }),
    ).toThrow(/event\.source must be well-formed/);
  });

  it('refuses offsets outside the buffer, a line ending before it starts, and numbers that are not whole, naming the field and the value', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 1 << 16 }));
    const producer = new AsyncQueueProducer(queue);
    const bytes = Buffer.from('{"id":"line-0","a":1}\n');
    const refusals: [Parameters<AsyncQueueProducer['pushLines']>[0], RegExp][] = [
      [
        { bytes, starts: [0], ends: [64] },
        /ends\[0\] must be a whole number from starts\[0\] \(0\) to bytes\.byteLength \(22\), got 64/,
      ],
      [{ bytes, starts: [5], ends: [2] }, /ends\[0\] must be .*, got 2/],
      [
        { bytes, starts: [Number.NaN], ends: [2] },
        /starts\[0\] must be a whole number from 0 to bytes\.byteLength \(22\), got NaN/,
      ],
      [{ bytes, starts: [-1], ends: [2] }, /starts\[0\] .* got -1/],
      [{ bytes, starts: [0.5], ends: [2] }, /starts\[0\] .* got 0\.5/],
      [{ bytes, starts: [0, 3], ends: [2] }, /ends\.length must be at least 2 \(one per start\), got 1/],
      [{ bytes, starts: '0' as never, ends: [2] }, /starts must be an array of numbers, got "0"/],
      [
        { bytes, starts: [0], ends: [21], idPrefix: 'l-' },
        /idNumbers must be an array of numbers, got undefined/,
      ],
      [
        { bytes, starts: [0], ends: [21], sourcePrefix: 's', sourceNumbers: [-3] },
        /sourceNumbers\[0\] .* got -3/,
      ],
      [{ bytes: [1, 2] as never, starts: [0], ends: [1] }, /bytes must be a Uint8Array/],
    ];
    for (const [batch, message] of refusals) {
      await expect(producer.pushLines(batch)).rejects.toMatchObject({ code: 'SLUICE_INVALID_EVENT' });
      await expect(producer.pushLines(batch)).rejects.toThrow(message);
    }
    expect(queue.rings[0]!.usedBytes()).toBe(0);
    // Nothing was reserved by them: the queue takes and hands over the next batch as ever.
    expect(await producer.pushLines({ bytes, starts: [0], ends: [21] })).toBe(1);
    expect(drain(queue).map((r) => r.text)).toEqual(['{"id":"line-0","a":1}']);
  });

  it("writes the offsets it checked, however often the caller's arrays are read", () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 1 << 16 }));
    const bytes = Buffer.from('{"a":1}\n{"b":22}\n');
    let reads = 0;
    // Each read of an element answers differently: a length taken at sizing and another at writing
    // would write past the record's space.
    const shifting = (values: number[], later: number) =>
      new Proxy(values, {
        get: (target, name, receiver) =>
          typeof name === 'string' && /^\d+$/.test(name) && reads++ > 3
            ? later
            : Reflect.get(target, name, receiver),
      });
    const accepted = new QueueProducer(queue).pushLines({
      bytes,
      starts: shifting([0, 8], 0),
      ends: shifting([7, 16], bytes.length),
    });
    expect(accepted).toBe(2);
    expect(drain(queue).map((r) => r.text)).toEqual(['{"a":1}', '{"b":22}']);
  });

  it('copyIntoRing: any bytes, from any offset to any offset, land exactly, and nothing around them moves', () => {
    const ring = Ring.create(1 << 12);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.nat({ max: 7 }),
        fc.nat({ max: 2000 }),
        fc.integer({ min: 1, max: 255 }),
        (piece, before, at, fill) => {
          // The piece at some offset of a larger buffer, as a line lies in a read.
          const source = new Uint8Array(before + piece.length + 5).fill(0xee);
          source.set(piece, before);
          ring.data.fill(fill);
          copyIntoRing(ring, at, new DataView(source.buffer), before, before + piece.length);
          expect(Buffer.from(ring.data.subarray(at, at + piece.length)).equals(Buffer.from(piece))).toBe(
            true,
          );
          expect(ring.data.subarray(0, at).every((b) => b === fill)).toBe(true);
          expect(ring.data.subarray(at + piece.length, at + piece.length + 8).every((b) => b === fill)).toBe(
            true,
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
