import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { fixtureUrl } from '../helpers/engine.js';

interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

let pipeline: Pipeline | undefined;
let dir: string | undefined;
afterEach(async () => {
  await pipeline?.close().catch(() => undefined);
  pipeline = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function scrape(p: Pipeline): Promise<Map<string, Family>> {
  const families = parsePrometheus(await p.metrics.metrics()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!sample) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return Number(sample.value);
}

describe('pipeline.metrics', () => {
  it('scraped counters equal what happened: N pushed, N − K written, K dead-lettered by reason', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
    pipeline = await createPipeline({
      workers: { min: 2, max: 2 },
      queue: { capacityBytes: 64 * 1024 },
      batch: { maxRecords: 50 },
      transform: fixtureUrl('behaviour-transform'),
      sink: { type: 'sqlite', path: join(dir, 'out.db') },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
    });
    const N = 2000;
    const events: SluiceEvent[] = [];
    let throws = 0;
    let invalid = 0;
    for (let i = 0; i < N; i++) {
      if (i % 97 === 0) {
        events.push({ id: `m-${i}`, payload: { output: 'throw' } });
        throws++;
      } else if (i % 89 === 0) {
        events.push({ id: `m-${i}`, payload: { valid: false } });
        invalid++;
      } else events.push({ id: `m-${i}`, payload: { i } });
    }
    const depths: number[] = [];
    for (let i = 0; i < N; i += 100) {
      await pipeline.pushMany(events.slice(i, i + 100));
      depths.push(value(await scrape(pipeline), 'sluice_queue_depth_bytes'));
    }
    await pipeline.drained();
    const m = await scrape(pipeline);
    const K = throws + invalid;
    expect(value(m, 'sluice_events_pushed_total')).toBe(N);
    expect(value(m, 'sluice_events_written_total', { sink: 'sqlite' })).toBe(N - K);
    expect(value(m, 'sluice_events_dead_lettered_total', { reason: 'transform-error' })).toBe(throws);
    expect(value(m, 'sluice_events_dead_lettered_total', { reason: 'validation-failed' })).toBe(invalid);
    expect(value(m, 'sluice_events_dead_lettered_total', { reason: 'worker-crash' })).toBe(0);
    // Every event of an acknowledged batch is counted once in the stage counters, each stage ≥ 0,
    // and decode + transform took some time.
    expect(value(m, 'sluice_event_stage_events_total')).toBe(N);
    for (const stage of ['queue_wait', 'decode_transform', 'sink_write', 'release_wait'])
      expect(value(m, 'sluice_event_stage_seconds_total', { stage })).toBeGreaterThanOrEqual(0);
    expect(value(m, 'sluice_event_stage_seconds_total', { stage: 'decode_transform' })).toBeGreaterThan(0);
    // Every event written was observed once by the latency histogram.
    expect(Number(m.get('sluice_end_to_end_latency_seconds')!.metrics[0]!.count)).toBe(N - K);
    const capacity = value(m, 'sluice_queue_capacity_bytes');
    expect(capacity).toBe(64 * 1024);
    for (const depth of depths) expect(depth).toBeLessThanOrEqual(capacity);
    expect(value(m, 'sluice_queue_depth_events')).toBe(0);
    const batches = m.get('sluice_batch_size_events')!.metrics[0]!;
    expect(Number(batches.sum)).toBe(N);
    expect(Number(batches.buckets!['50'])).toBe(Number(batches.count));
  });

  it('counts drops by policy and producer waits from the ring', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
    pipeline = await createPipeline({
      workers: { min: 1, max: 1 },
      queue: { capacityBytes: 4096, policy: 'drop-newest' },
      sink: {
        module: fixtureUrl('test-sink'),
        options: { path: join(dir, 's.db'), table: 't', delayMs: 50 },
      },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
    });
    let accepted = 0;
    for (let i = 0; i < 200; i++)
      if (await pipeline.push({ id: `d-${i}`, payload: { pad: 'x'.repeat(100) } })) accepted++;
    await pipeline.drained();
    const m = await scrape(pipeline);
    expect(accepted).toBeLessThan(200);
    expect(value(m, 'sluice_events_dropped_total', { policy: 'drop-newest' })).toBe(200 - accepted);
    expect(value(m, 'sluice_events_pushed_total')).toBe(accepted);
    expect(value(m, 'sluice_events_written_total')).toBe(accepted);
  });

  it('two scrapers back to back read the same figures: counters and histograms only grow, the ratio is windowed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
    pipeline = await createPipeline({
      workers: { min: 2, max: 2 },
      sink: { type: 'sqlite', path: join(dir, 'out.db') },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
    });
    for (let i = 0; i < 20; i++)
      await pipeline.pushMany(Array.from({ length: 100 }, (_, j) => ({ id: `s-${i}-${j}`, payload: { j } })));
    await pipeline.drained();
    const first = await scrape(pipeline);
    const second = await scrape(pipeline);
    for (const m of [first, second]) {
      expect(value(m, 'sluice_workers')).toBe(2);
      expect(value(m, 'sluice_worker_busy_seconds_total')).toBeGreaterThan(0);
    }
    expect(value(second, 'sluice_worker_busy_seconds_total')).toBe(
      value(first, 'sluice_worker_busy_seconds_total'),
    );
    expect(value(second, 'sluice_worker_utilization_ratio')).toBe(
      value(first, 'sluice_worker_utilization_ratio'),
    );
    const loop = (m: Map<string, Family>) => m.get('sluice_event_loop_delay_seconds')!.metrics[0]!;
    // The second scrape does not start a new series: its count holds at least the first one's.
    expect(Number(loop(second).count)).toBeGreaterThanOrEqual(Number(loop(first).count));
    expect(Number(loop(second).buckets!['+Inf'])).toBe(Number(loop(second).count));
    expect(first.has('sluice_event_loop_lag_seconds')).toBe(false);
  });
});
