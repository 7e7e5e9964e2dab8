/**
 * `drained()` resolves once every event accepted before the call is written or dead-lettered —
 * exactly, even when producers publish out of ring order (one reserved first and published last).
 */
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/queue/event-queue.js';
import { prepareEvent, wallClockMs, writeRecord } from '../../src/queue/record-codec.js';
import { fixtureUrl, useScenes } from '../helpers/engine.js';

const scene = useScenes();

describe('drained()', () => {
  it('waits for every event published before the call when a producer that reserved earlier publishes later', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1, concurrentBatchesPerWorker: 1 },
      batch: { maxRecords: 2 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ delayMs: 150 }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    // A second producer, as a producer thread would be: it reserves its record first …
    const queue = EventQueue.attach(pipeline.producerHandle);
    const ring = queue.rings[0]!;
    const late = prepareEvent({ id: 'late', payload: 0 }, queue.options.maxRecordBytes);
    const cursor = ring.tryReserve(late.size);
    expect(cursor).toBeGreaterThanOrEqual(0);
    // … the main thread publishes two records behind it …
    expect(
      await pipeline.pushMany([
        { id: 'b1', payload: 1 },
        { id: 'b2', payload: 2 },
      ]),
    ).toBe(2);
    const drained = pipeline.drained().then(() => s.rows().map((r) => r.id));
    // … and the first producer publishes last. Batches of two: [late, b1], then [b2].
    writeRecord(ring, ring.offsetOf(cursor), late, wallClockMs());
    ring.publish(cursor, late.size, 1);

    expect((await drained).sort()).toEqual(['b1', 'b2', 'late']);
  });
});
