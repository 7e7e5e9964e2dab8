/** Where the engine's time goes, from its counters: per-batch stage times and per-event worker cost. */
import { describe, expect, it } from 'vitest';
import { engineStages, stagesBar } from '../../src/harness/engine-stages.js';

describe('engineStages', () => {
  it('splits the worker time into sink writes and the rest, and leaves the remainder of the latency to the queue', () => {
    // 100 batches of 500 events: 3 s of worker time, 1 s of it in sink writes; mean latency 50 ms.
    const stages = engineStages({
      busySeconds: 3,
      sinkWriteSeconds: 1,
      batches: 100,
      meanBatchRecords: 500,
      meanLatencyMs: 50,
    })!;
    expect(stages.sinkWriteMs).toBeCloseTo(10, 9);
    expect(stages.decodeTransformMs).toBeCloseTo(20, 9);
    expect(stages.queueWaitMs).toBeCloseTo(20, 9);
    expect(stages.queueWaitMs + stages.decodeTransformMs + stages.sinkWriteMs).toBeCloseTo(
      stages.meanLatencyMs,
      9,
    );
    // 2 s over 50 000 events: 40 µs each; 1 s: 20 µs.
    expect(stages.workerUsPerEvent.decodeTransform).toBeCloseTo(40, 9);
    expect(stages.workerUsPerEvent.sinkWrite).toBeCloseTo(20, 9);
  });

  it('never reports a negative queue wait when batches of unequal size make the worker time exceed the mean latency', () => {
    const stages = engineStages({
      busySeconds: 1,
      sinkWriteSeconds: 0.5,
      batches: 10,
      meanBatchRecords: 10,
      meanLatencyMs: 60,
    })!;
    expect(stages.queueWaitMs).toBe(0);
  });

  it('reports nothing without a batch or without worker time (metrics off)', () => {
    const base = { busySeconds: 1, sinkWriteSeconds: 0, batches: 1, meanBatchRecords: 1, meanLatencyMs: 1 };
    expect(engineStages({ ...base, batches: 0 })).toBeUndefined();
    expect(engineStages({ ...base, busySeconds: 0 })).toBeUndefined();
  });

  it('draws each stage’s share of the total as a bar of the given width', () => {
    const stages = engineStages({
      busySeconds: 3,
      sinkWriteSeconds: 1,
      batches: 100,
      meanBatchRecords: 500,
      meanLatencyMs: 50,
    })!;
    const bar = stagesBar(stages, 10).split('  ')[0]!;
    expect(bar).toBe('░░░░▒▒▒▒██');
  });

  it('takes the engine’s own per-event stage counters when it has them, release wait included', () => {
    const stages = engineStages({
      busySeconds: 3,
      sinkWriteSeconds: 1,
      batches: 100,
      meanBatchRecords: 500,
      meanLatencyMs: 50,
      // 50 000 events: 1000 s in the ring in all, 500 s decoding and transforming, 250 s in writes, 100 s released late.
      stages: {
        events: 50_000,
        queueWaitSeconds: 1000,
        decodeTransformSeconds: 500,
        sinkWriteSeconds: 250,
        releaseWaitSeconds: 100,
      },
    })!;
    expect(stages.measured).toBe(true);
    expect(stages.queueWaitMs).toBeCloseTo(20, 9);
    expect(stages.decodeTransformMs).toBeCloseTo(10, 9);
    expect(stages.sinkWriteMs).toBeCloseTo(5, 9);
    expect(stages.releaseWaitMs).toBeCloseTo(2, 9);
    expect(stagesBar(stages, 37).split('  ')[0]).toBe(
      `${'░'.repeat(20)}${'▒'.repeat(10)}${'█'.repeat(5)}${'▓'.repeat(2)}`,
    );
    // Without events counted (an engine without the counters) the stages are derived again.
    const derived = engineStages({
      busySeconds: 3,
      sinkWriteSeconds: 1,
      batches: 100,
      meanBatchRecords: 500,
      meanLatencyMs: 50,
      stages: {
        events: 0,
        queueWaitSeconds: 0,
        decodeTransformSeconds: 0,
        sinkWriteSeconds: 0,
        releaseWaitSeconds: 0,
      },
    })!;
    expect(derived.measured).toBe(false);
    expect(derived.releaseWaitMs).toBeUndefined();
  });
});
