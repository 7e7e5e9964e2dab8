/**
 * Queue statistics: depth in records and bytes, monotonic totals, drop and wait counters, and the
 * guarantee that any thread attached to the queue reads the same numbers.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { EventQueue, type QueueStats } from '../../src/queue/event-queue.js';
import { PRODUCERS_WAITING } from '../../src/queue/layout.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';
import type { QueueOptions } from '../../src/queue/queue-options.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import type { ProducerResult } from '../fixtures/ring-producer.js';
import {
  drain,
  eventOfSize,
  fixtureUrl,
  startFixture,
  track,
  turns,
  until,
  watchdog,
} from './ring-harness.js';

const open: EventQueue[] = [];
afterEach(() => {
  for (const queue of open.splice(0)) queue.close();
});

function create(options: QueueOptions): EventQueue {
  const queue = EventQueue.create(resolveQueueOptions(options));
  open.push(queue);
  return queue;
}

/** A thread attached to the queue through its handle that reports the statistics it reads. */
async function statsReader(queue: EventQueue) {
  const worker = new Worker(fixtureUrl('queue-stats-reader'), { workerData: { handle: queue.handle } });
  const [ready] = (await once(worker, 'message')) as [{ type: string }];
  expect(ready.type).toBe('ready');
  return {
    async read(): Promise<{ total: QueueStats; partitions: QueueStats[] }> {
      worker.postMessage('read');
      const [message] = (await once(worker, 'message')) as [{ total: QueueStats; partitions: QueueStats[] }];
      return message;
    },
    close: () => worker.terminate(),
  };
}

describe('queue statistics', () => {
  it('depth counts queued and in-flight records and bytes until they are released', () => {
    const queue = create({ capacityBytes: 4096 });
    const producer = new QueueProducer(queue);
    const consumer = new RingConsumer(queue.rings[0]!);
    const sizes = [64, 128, 72, 200, 96];
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(producer.pushMany(sizes.map((size, i) => eventOfSize(`e${i}`, size)))).toBe(5);
    expect(queue.stats()).toEqual({
      depthRecords: 5,
      depthBytes: total,
      capacityBytes: 4096,
      recordsWritten: 5,
      bytesWritten: total,
      recordsClaimed: 0,
      recordsReleased: 0,
      droppedNewest: 0,
      droppedOldest: 0,
      rejected: 0,
      producerWaits: 0,
      producerBlockedMs: 0,
    });

    const range = consumer.claim(2, Number.MAX_SAFE_INTEGER)!;
    expect(range.records).toBe(2);
    // In flight still counts: the space is not free until released.
    expect(queue.stats()).toMatchObject({
      depthRecords: 5,
      depthBytes: total,
      recordsClaimed: 2,
      recordsReleased: 0,
    });

    consumer.release(range.end, range.records);
    expect(queue.stats()).toMatchObject({
      depthRecords: 3,
      depthBytes: total - 64 - 128,
      recordsClaimed: 2,
      recordsReleased: 2,
      recordsWritten: 5,
      bytesWritten: total,
    });

    expect(producer.push(eventOfSize('late', 80))).toBe(true);
    expect(drain(consumer)).toHaveLength(4);
    expect(queue.stats()).toMatchObject({
      depthRecords: 0,
      depthBytes: 0,
      recordsWritten: 6,
      bytesWritten: total + 80,
      recordsClaimed: 6,
      recordsReleased: 6,
    });
  });

  it('depthBytes includes the padding skipped at the end of a lap, bytesWritten only records', () => {
    const queue = create({ capacityBytes: 4096 });
    const producer = new QueueProducer(queue);
    const consumer = new RingConsumer(queue.rings[0]!);
    // 3 × 1024 + 960 leaves 64 bytes before the end of the lap.
    producer.pushMany([0, 1, 2].map((i) => eventOfSize(`a${i}`, 1024)));
    producer.push(eventOfSize('b', 960));
    expect(drain(consumer)).toHaveLength(4);
    expect(producer.push(eventOfSize('wraps', 128))).toBe(true);
    const stats = queue.stats();
    expect(stats.depthBytes).toBe(64 + 128);
    expect(stats.depthRecords).toBe(1);
    expect(stats.bytesWritten).toBe(4096 - 64 + 128);
  });

  it('stats() sums the partitions and partitionStats() reports each ring', () => {
    const queue = create({ capacityBytes: 4096, partitions: 2 });
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
    const k0 = keys.find((k) => queue.partitionOf(k) === 0)!;
    const k1 = keys.find((k) => queue.partitionOf(k) === 1)!;
    const producer = new QueueProducer(queue);
    producer.pushMany([
      { key: k0, payload: 1 },
      { key: k0, payload: 2 },
      { key: k0, payload: 3 },
      { key: k1, payload: 4 },
    ]);
    const [p0, p1] = queue.partitionStats() as [QueueStats, QueueStats];
    expect(p0.recordsWritten).toBe(3);
    expect(p1.recordsWritten).toBe(1);
    expect(p0.capacityBytes).toBe(4096);
    const total = queue.stats();
    expect(total.recordsWritten).toBe(4);
    expect(total.depthRecords).toBe(4);
    expect(total.depthBytes).toBe(p0.depthBytes + p1.depthBytes);
    expect(total.bytesWritten).toBe(p0.bytesWritten + p1.bytesWritten);
    expect(total.capacityBytes).toBe(8192);
  });

  it('a push that never waits counts no producer wait', async () => {
    const queue = create({ capacityBytes: 4096 });
    await new AsyncQueueProducer(queue).pushMany(Array.from({ length: 10 }, (_, i) => ({ payload: i })));
    expect(queue.stats()).toMatchObject({ producerWaits: 0, producerBlockedMs: 0 });
  });

  it('a push blocked on a full ring counts one producer wait and a blocked time within the time it was pending', async () => {
    const queue = create({ capacityBytes: 4096 });
    const producer = new AsyncQueueProducer(queue);
    const consumer = new RingConsumer(queue.rings[0]!);
    await producer.pushMany(Array.from({ length: 64 }, (_, i) => eventOfSize(`old-${i}`, 64)));
    const started = performance.now();
    const push = track(() => producer.push(eventOfSize('new', 64)));
    await turns();
    expect(push.state).toBe('pending');
    expect(queue.stats().producerWaits).toBe(1);
    const range = consumer.claim(1, Number.MAX_SAFE_INTEGER)!;
    consumer.release(range.end, range.records);
    await watchdog(push.promise, 5_000, 'push after release');
    const elapsed = performance.now() - started;
    const stats = queue.stats();
    expect(stats.producerWaits).toBe(1);
    expect(stats.producerBlockedMs).toBeGreaterThan(0);
    expect(stats.producerBlockedMs).toBeLessThanOrEqual(elapsed);
  });

  it('another thread attached through the handle reads the same statistics as the creating thread', async () => {
    const queue = create({ capacityBytes: 4096, policy: 'drop-newest' });
    const producer = new QueueProducer(queue);
    const consumer = new RingConsumer(queue.rings[0]!);
    const reader = await statsReader(queue);
    try {
      expect((await reader.read()).total).toEqual(queue.stats());
      expect(producer.pushMany(Array.from({ length: 64 }, (_, i) => eventOfSize(`e${i}`, 64)))).toBe(64);
      expect(producer.push(eventOfSize('dropped-1', 64))).toBe(false);
      expect(producer.push(eventOfSize('dropped-2', 64))).toBe(false);
      const range = consumer.claim(10, Number.MAX_SAFE_INTEGER)!;
      consumer.release(range.end, range.records);
      consumer.claim(5, Number.MAX_SAFE_INTEGER);

      const seen = await reader.read();
      expect(seen.total).toEqual(queue.stats());
      expect(seen.partitions).toEqual(queue.partitionStats());
      expect(seen.total).toMatchObject({
        recordsWritten: 64,
        bytesWritten: 4096,
        recordsClaimed: 15,
        recordsReleased: 10,
        depthRecords: 54,
        depthBytes: 54 * 64,
        droppedNewest: 2,
      });
    } finally {
      await reader.close();
    }
  });

  it("a producer thread's waits and blocked time are visible to the main thread and to a third thread", async () => {
    const queue = create({ capacityBytes: 4096 });
    const consumer = new RingConsumer(queue.rings[0]!);
    await new AsyncQueueProducer(queue).pushMany(
      Array.from({ length: 64 }, (_, i) => eventOfSize(`old-${i}`, 64)),
    );
    const reader = await statsReader(queue);
    const thread = startFixture<ProducerResult>('ring-producer', {
      handle: queue.handle,
      producerIndex: 0,
      count: 500,
      seed: 7,
      keyCount: 0,
      maxPad: 0,
    });
    try {
      await until(
        () => Atomics.load(queue.rings[0]!.control, PRODUCERS_WAITING) === 1,
        'the producer thread to block',
      );
      expect(queue.stats().producerWaits).toBeGreaterThanOrEqual(1);
      expect((await reader.read()).total.producerWaits).toBeGreaterThanOrEqual(1);

      let done = false;
      thread.result.then(
        () => (done = true),
        () => (done = true),
      );
      let consumed = 0;
      const consume = async () => {
        while (!done) {
          consumed += drain(consumer).length;
          await Promise.race([consumer.waitForWork(), thread.result]);
        }
        consumed += drain(consumer).length;
      };
      await watchdog(consume(), 20_000, 'draining the producer thread');
      const result = await thread.result;
      expect(result).toEqual({ accepted: 500 });
      expect(consumed).toBe(564);

      const mine = queue.stats();
      expect(mine.producerWaits).toBeGreaterThanOrEqual(1);
      expect(mine.producerBlockedMs).toBeGreaterThan(0);
      expect(mine.recordsWritten).toBe(564);
      expect(mine.recordsReleased).toBe(564);
      expect((await reader.read()).total).toEqual(mine);
    } finally {
      await thread.worker.terminate();
      await reader.close();
    }
  });
});
