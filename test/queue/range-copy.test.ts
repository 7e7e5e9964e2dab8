/**
 * RangeCopy: a claimed range copied out of the ring holds every record's bytes where offsetOf says,
 * for ranges that go round the ring's end as for those that do not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { QueueProducer } from '../../src/queue/producer.js';
import { payloadText, readRecord } from '../../src/queue/record-codec.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { forEachRecord, RangeCopy } from '../../src/queue/ring-reader.js';

describe('RangeCopy', () => {
  it('holds every record of a range at offsetOf, byte for byte, across the ring’s end', () => {
    let wrapped = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // JSON strings of 100–400 characters, multi-byte and escapes included: enough to go round a
            // 64 KiB ring several times in a run.
            lines: fc.array(fc.string({ unit: 'grapheme', minLength: 100, maxLength: 400 }), {
              minLength: 5,
              maxLength: 40,
            }),
            claimRecords: fc.integer({ min: 1, max: 50 }),
          }),
          { minLength: 20, maxLength: 40 },
        ),
        (rounds) => {
          const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 64 * 1024 }));
          const ring = queue.rings[0]!;
          const producer = new QueueProducer(queue);
          const consumer = new RingConsumer(ring);
          const pushed: string[] = [];
          const read: string[] = [];
          // A record's bytes in the ring, at most, and the sum of those pushed and not yet read:
          // the producer blocks on a full ring and the consumer is this thread, so space is made
          // before each push.
          const most = (text: string) => Buffer.byteLength(text) + 256;
          let pending = 0;
          const take = (maxRecords: number) => {
            const range = consumer.claim(maxRecords, Number.MAX_SAFE_INTEGER);
            if (range === null) return false;
            const copy = new RangeCopy(ring, range.start, range.end);
            if ((range.end & ring.mask) < (range.start & ring.mask)) wrapped++;
            forEachRecord(ring, range.start, range.end, (at) => {
              const view = readRecord(ring, at);
              const from = copy.offsetOf(view.payloadOffset);
              const copied = copy.bytes.subarray(from, from + view.payloadLength);
              expect(
                copied.equals(
                  ring.bytes.subarray(view.payloadOffset, view.payloadOffset + view.payloadLength),
                ),
              ).toBe(true);
              read.push(copied.toString('utf8'));
              pending -= most(pushed[read.length - 1]!);
              expect(read.at(-1)).toBe(payloadText(ring, view));
            });
            consumer.release(range.end, range.records);
            return true;
          };
          for (const { lines, claimRecords } of rounds) {
            for (const line of lines) {
              const text = JSON.stringify(line);
              while (pending + most(text) > ring.capacity / 2) {
                if (!take(claimRecords)) throw new Error('nothing to claim in a ring said to be full');
              }
              expect(producer.pushRawMany([text])).toBe(1);
              pushed.push(text);
              pending += most(text);
            }
            take(claimRecords);
          }
          while (take(50));
          expect(read).toEqual(pushed);
        },
      ),
      { numRuns: 25, seed: 0x5eed, endOnFailure: true },
    );
    // The property ran over ranges that go round the ring's end, not only ones that do not.
    expect(wrapped).toBeGreaterThan(10);
  });
});
