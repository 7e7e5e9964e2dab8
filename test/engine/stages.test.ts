/**
 * Where an event's time goes, as the engine counts it (LiveStats.stages): each event of an
 * acknowledged batch once, with its time in the ring, in decode + transform, in sink writes, and
 * acknowledged but waiting for an earlier batch before its ring space is released.
 */
import { describe, expect, it } from 'vitest';
import { createControl } from '../fixtures/engine/control.js';
import { fixtureUrl, ids, useScenes } from '../helpers/engine.js';

describe('stage counters', () => {
  const scene = useScenes();

  it('count every event once, and the sink write and transform time each event waited for (lower bounds from sleeps)', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      transform: fixtureUrl('sleep-transform'),
      sink: {
        module: fixtureUrl('test-sink'),
        options: s.sinkOptions({ delayMs: 20, control: createControl() }),
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 10 },
    });
    const all = ids('st', 100);
    // One event in ten sleeps 15 ms in the transform: its whole batch waits for it.
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: { sleepMs: i % 10 === 0 ? 15 : 0 } })));
    await pipeline.drained();
    const stages = pipeline.liveStats().stages!;
    expect(stages.events).toBe(all.length);
    // Each write sleeps 20 ms; every event waited for its batch's write.
    expect(stages.sinkWriteSeconds / stages.events).toBeGreaterThanOrEqual(0.02);
    // Batches of 10 pushed at once hold one sleeping event each (the first of each ten).
    expect(stages.decodeTransformSeconds / stages.events).toBeGreaterThanOrEqual(0.015);
    expect(stages.queueWaitSeconds).toBeGreaterThan(0);
    expect(s.rows().length).toBe(all.length);
  });

  it('count the release wait of a batch acknowledged before an earlier one', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      transform: fixtureUrl('sleep-transform'),
      sink: { type: 'null' },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      // One worker running two batches at once: the slow one sleeps, the fast one finishes meanwhile.
      workers: { min: 1, max: 1, concurrentBatchesPerWorker: 2 },
      batch: { maxRecords: 1 },
    });
    // The first event's batch takes 300 ms; the second's is done long before and must wait for it.
    await pipeline.pushMany([
      { id: 'slow', payload: { sleepMs: 300 } },
      { id: 'fast', payload: { sleepMs: 0 } },
    ]);
    await pipeline.drained();
    const stages = pipeline.liveStats().stages!;
    expect(stages.events).toBe(2);
    expect(stages.releaseWaitSeconds).toBeGreaterThan(0);
    expect(stages.decodeTransformSeconds).toBeGreaterThanOrEqual(0.3);
  });
});
