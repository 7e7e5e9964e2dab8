/**
 * AsyncQueueProducer.publishedEnds(): per ring, where this producer's last record ends — what
 * Pipeline.settled() waits for the release cursor to pass. A mark is listed only while it is
 * pending (ahead of the release cursor), so one released long ago never holds a waiter.
 */
import { describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';

function releaseAll(consumer: RingConsumer): void {
  for (let range = consumer.claim(1_000_000, 1 << 30); range; range = consumer.claim(1_000_000, 1 << 30)) {
    consumer.release(range.end, range.records);
  }
}

describe('AsyncQueueProducer.marks', () => {
  it('lists a ring while this producer’s records there are unreleased, and the end of its last one', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096, partitions: 2 }));
    const producer = new AsyncQueueProducer(queue);
    expect(producer.publishedEnds()).toEqual(new Map());
    await producer.pushRawRecords([{ data: '{"a":1}', key: 'k' }]);
    const part = queue.partitionOf('k');
    const ring = queue.rings[part]!;
    const marks = producer.publishedEnds();
    expect([...marks.keys()]).toEqual([part]);
    // The mark is the ring's reserve cursor: this producer wrote last.
    expect(marks.get(part)).toBe(ring.usedBytes());
  });

  it('drops a mark once the ring released past it, and it stays dropped while other producers push laps of the ring', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
    const mine = new AsyncQueueProducer(queue);
    const other = new QueueProducer(queue);
    const consumer = new RingConsumer(queue.rings[0]!);
    await mine.pushRawRecords([{ data: '{"mine":1}' }]);
    expect(mine.publishedEnds().size).toBe(1);
    releaseAll(consumer);
    expect(mine.publishedEnds().size).toBe(0);
    // Laps of another producer's records: the stale mark must not come back as pending.
    for (let lap = 0; lap < 200; lap++) {
      other.pushRawMany(Array.from({ length: 20 }, (_, i) => `{"other":${i}}`));
      releaseAll(consumer);
      expect(mine.publishedEnds().size).toBe(0);
    }
    // Still pending while only part is released: the other's records behind ours keep it listed.
    await mine.pushRawRecords([{ data: '{"mine":2}' }]);
    other.pushRawMany(['{"after":1}']);
    expect(mine.publishedEnds().size).toBe(1);
    releaseAll(consumer);
    expect(mine.publishedEnds().size).toBe(0);
  });
});
