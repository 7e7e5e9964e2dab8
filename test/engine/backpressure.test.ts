/**
 * Backpressure: ring space is released only once the sink acknowledged, so a stalled sink stops
 * producers at the ring's capacity — nothing piles up anywhere else — and they resume, losing
 * nothing, when it recovers.
 */
import { describe, expect, it } from 'vitest';
import { createControl, RECORDS_STORED, WRITES_AT_GATE } from '../fixtures/engine/control.js';
import { fixtureUrl, ids, openGate, turns, useScenes, waitForWord, watch } from '../helpers/engine.js';

const scene = useScenes();
const CAPACITY = 16 * 1024;
const N = 3000;

describe('backpressure', () => {
  it('a producer waits while a stalled sink holds the ring full, the ring never exceeds its capacity, and every event arrives once the sink recovers', async () => {
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      queue: { capacityBytes: CAPACITY },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 50 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('bp', N);
    const payload = { text: 'x'.repeat(100) };
    let maxDepth = 0;
    const sample = () => {
      const { depthBytes, capacityBytes } = pipeline.stats().queue;
      expect(capacityBytes).toBe(CAPACITY);
      maxDepth = Math.max(maxDepth, depthBytes);
    };

    // Push until a push does not complete at once: the ring is full and the gated sink holds it.
    let accepted = 0;
    let blocked: Promise<boolean> | undefined;
    while (accepted < N) {
      sample();
      const push = pipeline.push({ id: all[accepted]!, payload });
      const state = watch(push);
      await turns(1);
      sample();
      if (!state.settled) {
        blocked = push;
        break;
      }
      expect(await push).toBe(true);
      accepted++;
    }
    expect(blocked, 'the ring never filled up').toBeDefined();
    expect(pipeline.stats().queue.producerWaits).toBeGreaterThan(0);
    // Writes hold everything in flight at the gate; nothing reached the sink.
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    expect(Atomics.load(words, RECORDS_STORED)).toBe(0);
    // Everything accepted is in the ring: at most its capacity.
    const { depthRecords, depthBytes } = pipeline.stats().queue;
    expect(depthRecords).toBe(accepted);
    expect(depthBytes).toBeLessThanOrEqual(CAPACITY);
    expect(accepted).toBeLessThan(N);
    // The waiting push stays pending through many turns of the event loop while the sink is stalled.
    const waiting = watch(blocked!);
    await turns(50);
    expect(waiting.settled).toBe(false);
    expect(pipeline.stats().queue.depthRecords).toBe(accepted);

    openGate(words);
    expect(await blocked!).toBe(true);
    accepted++;
    for (; accepted < N; accepted++) {
      sample();
      expect(await pipeline.push({ id: all[accepted]!, payload })).toBe(true);
      sample();
    }
    await pipeline.drained();
    sample();

    expect(maxDepth).toBeLessThanOrEqual(CAPACITY);
    expect(maxDepth).toBeGreaterThan(CAPACITY / 2);
    const rows = s.rows();
    expect(new Set(rows.map((r) => r.id)).size).toBe(N);
    expect(rows.map((r) => r.id).sort()).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    expect(pipeline.stats().queue.depthRecords).toBe(0);
  });

  it('many concurrent producers on the main thread all wait on a full ring and all get in once it drains', async () => {
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      queue: { capacityBytes: CAPACITY },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 40 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('many', N);
    const pushes = all.map((id) => pipeline.push({ id, payload: { text: 'y'.repeat(80) } }));
    const states = pushes.map(watch);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await turns(5);
    const done = states.filter((st) => st.settled).length;
    expect(done).toBeLessThan(N);
    expect(pipeline.stats().queue.depthBytes).toBeLessThanOrEqual(CAPACITY);
    expect(pipeline.stats().queue.producerWaits).toBeGreaterThan(0);

    openGate(words);
    expect(await Promise.all(pushes)).toEqual(all.map(() => true));
    await pipeline.drained();
    expect(
      s
        .rows()
        .map((r) => r.id)
        .sort(),
    ).toEqual(all);
  });
});
