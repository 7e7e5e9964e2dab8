/**
 * Producer threads: other threads attach to the pipeline's ring with connectProducer and push
 * blocking (Atomics.wait when full) while workers drain it. A small ring forces them to wait on
 * each other and on the sink over and over; nothing may be lost or duplicated on the way.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ProducerThreadData } from '../fixtures/engine/producer-thread.js';
import { fixtureUrl, useScenes } from '../helpers/engine.js';

const scene = useScenes();
const PER_THREAD = 20_000;

function runProducer(data: ProducerThreadData): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fixtureUrl('producer-thread'), { workerData: data });
    let accepted: number | undefined;
    worker.once('message', (message: { accepted: number }) => {
      accepted = message.accepted;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code === 0 && accepted !== undefined) resolve(accepted);
      else reject(new Error(`producer thread ${data.prefix} exited with code ${code} before reporting`));
    });
  });
}

describe('producer threads', () => {
  it('two producer threads pushing 20 000 events each through a 64 KiB ring deliver every event exactly once', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 64 * 1024, partitions: 2 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 500 },
      // unique: false — a duplicate delivery would be a second row.
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ unique: false }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const handle = pipeline.producerHandle;
    const accepted = await Promise.all([
      runProducer({ handle, prefix: 'single', count: PER_THREAD, mode: 'single', chunk: 1 }),
      runProducer({ handle, prefix: 'many', count: PER_THREAD, mode: 'many', chunk: 64 }),
    ]);
    expect(accepted).toEqual([PER_THREAD, PER_THREAD]);
    await pipeline.drained();

    const rows = s.rows();
    expect(rows.length).toBe(2 * PER_THREAD);
    const stored = new Set(rows.map((r) => r.id));
    const expected = [
      ...Array.from({ length: PER_THREAD }, (_, i) => `single-${i}`),
      ...Array.from({ length: PER_THREAD }, (_, i) => `many-${i}`),
    ];
    expect(stored.size).toBe(expected.length);
    expect(expected.filter((id) => !stored.has(id))).toEqual([]);
    expect(s.deadLetters()).toEqual([]);

    const { queue } = pipeline.stats();
    // The ring was really too small: producers had to wait for the workers.
    expect(queue.producerWaits).toBeGreaterThan(0);
    expect(queue.recordsWritten).toBe(2 * PER_THREAD);
    expect(queue.depthRecords).toBe(0);
  });

  it('keeps each producer thread’s per-key push order through the ring', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 64 * 1024, partitions: 2 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 200 },
      ordering: 'key',
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const handle = pipeline.producerHandle;
    await Promise.all([
      runProducer({ handle, prefix: 'a', count: 5000, mode: 'many', chunk: 32 }),
      runProducer({ handle, prefix: 'b', count: 5000, mode: 'single', chunk: 1 }),
    ]);
    await pipeline.drained();
    const byKey = new Map<string, number[]>();
    for (const row of s.rows()) {
      const list = byKey.get(row.key!) ?? [];
      list.push((row.payload as { i: number }).i);
      byKey.set(row.key!, list);
    }
    expect(byKey.size).toBe(14);
    for (const [key, order] of byKey) {
      expect(order.length, key).toBeGreaterThan(700);
      expect(order, key).toEqual([...order].sort((x, y) => x - y));
    }
  });
});
