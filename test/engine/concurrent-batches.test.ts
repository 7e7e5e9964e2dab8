/**
 * workers.concurrentBatchesPerWorker: a worker runs that many batches at once — a batch's sink
 * write in flight while the next one is decoded and written — even though every batch carries the
 * abort signal of its taskTimeoutMs. A sink that does not say it takes concurrent writes gets them
 * one at a time; a batch aborted beside another takes its worker, and the other batch, down with
 * it, and every event still ends in the sink or the dead letters.
 */
import { describe, expect, it } from 'vitest';
import { createControl, WRITES_AT_GATE, WRITES_STARTED } from '../fixtures/engine/control.js';
import { distinctSorted, fixtureUrl, ids, openGate, useScenes, waitForWord } from '../helpers/engine.js';

const scene = useScenes();
const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 20, maxAttempts: 60 };

describe('concurrent batches on one worker', () => {
  it('runs two batches at once on a single worker: both writes wait at a closed gate together', async () => {
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1, concurrentBatchesPerWorker: 2 },
      batch: { maxRecords: 10 },
      sink: {
        module: fixtureUrl('test-sink'),
        options: s.sinkOptions({ control, concurrentWrites: true }),
      },
    });
    const all = ids('pair', 100);
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: { i } })));
    await waitForWord(words, WRITES_AT_GATE, (n) => n === 2, 'two writes at the gate at once');
    openGate(words);
    await pipeline.drained();

    const rows = s.rows();
    expect(distinctSorted(rows.map((r) => r.id))).toEqual(all);
    expect(rows).toHaveLength(all.length);
    // One worker thread wrote them all.
    expect(new Set(rows.map((r) => r.thread)).size).toBe(1);
  });

  it('gives a sink that does not take concurrent writes one write at a time, and delivers every event', async () => {
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1, concurrentBatchesPerWorker: 4 },
      batch: { maxRecords: 10 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
    });
    const all = ids('turns', 100);
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: { i } })));
    await waitForWord(words, WRITES_AT_GATE, (n) => n === 1, 'a write at the gate');
    expect(pipeline.stats().runningBatches).toBe(4);
    // Time for the other batches on the worker to reach their writes: none may begin while the
    // first is in flight (this wait can only let a wrong engine pass, never fail a right one).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Atomics.load(words, WRITES_STARTED)).toBe(1);
    openGate(words);
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all);
    expect(s.rows()).toHaveLength(all.length);
  });

  it('delivers the batch beside a hanging one on the same worker, and dead-letters only the hanging event', async () => {
    const s = scene();
    const N = 200;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 1, max: 1, taskTimeoutMs: 300, concurrentBatchesPerWorker: 2 },
      batch: { maxRecords: 16 },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ concurrentWrites: true }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('beside', N);
    const stuck = all[77]!;
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: id === stuck ? { i, hang: true } : { i } })));
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== stuck));
    expect(s.deadLetters().map((l) => [l.id, l.letter.reason])).toEqual([[stuck, 'worker-crash']]);
  });
});
