#!/usr/bin/env node
import { payloadText, readRecord } from '../codec/record-codec.js';
import { EventQueue } from '../queue/event-queue.js';
import { AsyncQueueProducer } from '../queue/producer.js';
import { RingConsumer } from '../queue/ring-consumer.js';
import { forEachRecord } from '../queue/ring-reader.js';

/**
 * A short demonstration: events pushed through a 1 MiB ring and read back on the same thread,
 * with the figures printed. The full pipeline and `sluice bench` replace it.
 */
async function ringDemo(total: number): Promise<void> {
  const queue = EventQueue.create({ capacityBytes: 1 << 20 });
  const ring = queue.rings[0]!;
  const producer = new AsyncQueueProducer(queue);
  const consumer = new RingConsumer(ring);
  const started = performance.now();
  const produce = (async () => {
    const chunk = [];
    for (let i = 0; i < total; i++) {
      chunk.push({ key: `user-${i % 1000}`, payload: { seq: i, action: 'click', path: '/checkout' } });
      if (chunk.length === 500) {
        await producer.pushMany(chunk);
        chunk.length = 0;
      }
    }
    await producer.pushMany(chunk);
  })();
  let read = 0;
  let outOfOrder = 0;
  while (read < total) {
    const range = consumer.claim(4096, 1 << 18);
    if (!range) {
      await consumer.waitForWork();
      continue;
    }
    forEachRecord(ring, range.start, range.end, (at) => {
      const payload = JSON.parse(payloadText(ring, readRecord(ring, at))) as { seq: number };
      if (payload.seq !== read) outOfOrder++;
      read++;
    });
    consumer.release(range.end, range.records);
  }
  await produce;
  const seconds = (performance.now() - started) / 1000;
  const stats = queue.stats();
  console.log(
    `sluice ring demo: ${read} events in ${seconds.toFixed(2)} s = ${Math.round(read / seconds)} events/s ` +
      `(encode + ring + decode on one thread), ${outOfOrder} out of order, ` +
      `producer waits ${stats.producerWaits}, depth now ${stats.depthRecords}`,
  );
}

await ringDemo(Number(process.argv[2] ?? 500_000));
