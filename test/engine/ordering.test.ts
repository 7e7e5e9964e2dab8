/**
 * Ordering 'key': one batch in flight per partition, so the events of one key reach the sink in
 * push order even while batches are retried. The fixture sink numbers rows in commit order (seq),
 * which is the order the sink received them.
 */
import { describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import { createControl, WRITES_FAILED } from '../fixtures/engine/control.js';
import type { TestSinkOptions } from '../fixtures/engine/test-sink.js';
import { fixtureUrl, type Scene, type SinkRow, useScenes } from '../helpers/engine.js';

const scene = useScenes();
const KEYS = 24;
const PER_KEY = 150;

/** Events k0…k23 interleaved, each key's events numbered 0, 1, 2, … in push order. */
function interleaved(): SluiceEvent[] {
  const events: SluiceEvent[] = [];
  for (let n = 0; n < PER_KEY; n++) {
    for (let k = 0; k < KEYS; k++) events.push({ id: `k${k}-${n}`, key: `k${k}`, payload: { n } });
  }
  return events;
}

function orderByKey(rows: SinkRow[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const row of rows) {
    const list = byKey.get(row.key!) ?? [];
    list.push((row.payload as { n: number }).n);
    byKey.set(row.key!, list);
  }
  return byKey;
}

async function runKeyOrdered(s: Scene, flaky: Partial<TestSinkOptions>) {
  const control = createControl();
  const pipeline = await s.pipeline({
    queue: { partitions: 4, capacityBytes: 64 * 1024 },
    workers: { min: 2, max: 2 },
    batch: { maxRecords: 20 },
    ordering: 'key',
    retry: { initialDelayMs: 1, maxDelayMs: 10, maxAttempts: 100 },
    sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ seed: 11, control, ...flaky }) },
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
  });
  const events = interleaved();
  // Pushed in small groups, so each partition's ring holds many batches waiting behind a retry.
  for (let i = 0; i < events.length; i += 50) await pipeline.pushMany(events.slice(i, i + 50));
  await pipeline.drained();
  return { pipeline, failedWrites: Atomics.load(new Int32Array(control), WRITES_FAILED) };
}

describe("ordering 'key'", () => {
  it('delivers the events of each key in push order while the sink fails whole writes and they are retried', async () => {
    const s = scene();
    const { pipeline, failedWrites } = await runKeyOrdered(s, { failRate: 0.3 });
    expect(failedWrites).toBeGreaterThan(0);
    expect(pipeline.stats().retries).toBeGreaterThan(0);
    const byKey = orderByKey(s.rows());
    expect(byKey.size).toBe(KEYS);
    const inOrder = Array.from({ length: PER_KEY }, (_, n) => n);
    for (const [key, order] of byKey) expect(order, `order of ${key}`).toEqual(inOrder);
  });

  it('delivers the events of each key in push order while the sink fails single records (and the rest of their key) and they are retried', async () => {
    const s = scene();
    const { pipeline, failedWrites } = await runKeyOrdered(s, { partialFailRate: 0.05 });
    expect(failedWrites).toBeGreaterThan(0);
    expect(pipeline.stats().retries).toBeGreaterThan(0);
    const byKey = orderByKey(s.rows());
    expect(byKey.size).toBe(KEYS);
    const inOrder = Array.from({ length: PER_KEY }, (_, n) => n);
    for (const [key, order] of byKey) expect(order, `order of ${key}`).toEqual(inOrder);
  });
});
