/**
 * An asynchronous transform and validator are handled as the same synchronous ones: the same rows
 * stored by id, the same events filtered, split and dead-lettered with the same reasons, and every
 * output's latency measured from its event's push (the worker awaits each record's promise, then
 * counts what it emitted).
 */
import { describe, expect, it } from 'vitest';
import { fixtureUrl, type Scene, useScenes } from '../helpers/engine.js';

/** 400 events: one in ten dropped, split, thrown on or refused by validate; the rest passed on. */
function events(): { id: string; payload: Record<string, unknown> }[] {
  return Array.from({ length: 400 }, (_, i) => {
    const kind = i % 10;
    const payload: Record<string, unknown> =
      kind === 3
        ? { i, output: 'drop' }
        : kind === 5
          ? { i, output: 'split' }
          : kind === 7
            ? { i, output: 'throw' }
            : kind === 9
              ? { i, valid: `event ${i} refused` }
              : { i };
    return { id: `async-${i}`, payload };
  });
}

async function run(scene: Scene, transform: string) {
  const pipeline = await scene.pipeline({
    queue: { capacityBytes: 64 * 1024 },
    workers: { min: 2, max: 2 },
    batch: { maxRecords: 64 },
    transform: fixtureUrl(transform),
    sink: { module: fixtureUrl('test-sink'), options: scene.sinkOptions() },
    deadLetter: { type: 'ndjson', path: scene.deadLetterPath },
  });
  await pipeline.pushMany(events());
  await pipeline.drained();
  const stats = pipeline.stats();
  const rows = new Map(scene.rows().map((r) => [r.id, r.payload]));
  const letters = scene
    .deadLetters()
    .map((l) => [l.id, l.letter.reason] as const)
    .sort(([a], [b]) => a.localeCompare(b));
  return { stats, rows, letters };
}

describe('an asynchronous transform', () => {
  const scene = useScenes('each');

  it('stores, filters, splits and dead-letters as the synchronous one does, with every output’s latency measured', async () => {
    const sync = await run(scene(), 'behaviour-transform');
    const later = await run(scene(), 'async-behaviour-transform');

    // 240 passed on, 40 split in two; 40 dropped; 40 thrown on and 40 refused, dead-lettered.
    expect(later.rows.size).toBe(320);
    expect([...later.rows.keys()].sort()).toEqual([...sync.rows.keys()].sort());
    for (const [id, payload] of sync.rows) expect(later.rows.get(id)).toEqual(payload);
    expect(later.letters).toEqual(sync.letters);
    expect(later.letters).toHaveLength(80);
    for (const result of [sync, later]) {
      expect(result.stats.filtered).toBe(40);
      expect(result.stats.deadLetteredByReason).toEqual({ 'transform-error': 40, 'validation-failed': 40 });
      // A missing enqueue time would make the mean NaN.
      expect(Number.isFinite(result.stats.meanLatencyMs)).toBe(true);
      expect(result.stats.meanLatencyMs).toBeGreaterThan(0);
      expect(result.stats.maxLatencyMs).toBeGreaterThanOrEqual(result.stats.meanLatencyMs);
    }
    expect(later.stats.written).toBe(sync.stats.written);
  });
});
