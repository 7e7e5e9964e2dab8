/**
 * Telemetry during a sink outage, scraped over HTTP as Prometheus would: errors and retries move
 * while the sink is down (not once it is back), `sluice_sink_up` drops to 0, `/readyz` turns 503
 * naming the sink once it has failed for `metrics.sinkDownAfterMs`, and all of it recovers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { createMetricsServer, type MetricsServer } from '../../src/metrics/metrics-server.js';
import { createControl, FAILING, OPEN_FAILING, WRITES_FAILED } from '../fixtures/engine/control.js';
import { distinctSorted, fixtureUrl, ids, pollUntil, useScenes, waitForWord } from '../helpers/engine.js';

interface Family {
  name: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

async function scrape(
  server: MetricsServer,
): Promise<(name: string, labels?: Record<string, string>) => number> {
  const families = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text()) as Family[];
  return (name, labels = {}) => {
    const sample = families
      .find((f) => f.name === name)
      ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    if (!sample) throw new Error(`no sample of ${name} ${JSON.stringify(labels)}`);
    return Number(sample.value);
  };
}

async function readyz(server: MetricsServer): Promise<{ status: number; body: string }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: await response.text() };
}

describe('metrics and readiness during a sink outage', () => {
  const scene = useScenes();

  it('count errors and retries while the sink is down, report it down, turn /readyz 503 naming it, and recover', async () => {
    const s = scene();
    const control = createControl();
    const words = new Int32Array(control);
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2, taskTimeoutMs: 2000 },
      batch: { maxRecords: 25 },
      retry: { initialDelayMs: 5, maxDelayMs: 40 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      metrics: { sinkDownAfterMs: 400 },
    });
    const server = await createMetricsServer(pipeline, { port: 0 });
    try {
      const before = ids('up', 100);
      await pipeline.pushMany(before.map((id, i) => ({ id, payload: { i } })));
      await pipeline.drained();
      let m = await scrape(server);
      expect(m('sluice_sink_up', { role: 'sink' })).toBe(1);
      expect(m('sluice_sink_errors_total', { retryable: 'true' })).toBe(0);
      expect(await readyz(server)).toEqual({ status: 200, body: 'ready\n' });

      Atomics.store(words, FAILING, 1);
      const during = ids('down', 100);
      const pushed = pipeline.pushMany(during.map((id, i) => ({ id, payload: { i } })));
      const failedSoFar = await waitForWord(words, WRITES_FAILED, (n) => n >= 6, 'writes failing');
      // Still down, and the counters already show it: every failed write but the one each of the
      // two workers may have in hand (the sink counts a failure before delivery hears of it).
      m = await scrape(server);
      expect(m('sluice_sink_errors_total', { retryable: 'true' })).toBeGreaterThanOrEqual(failedSoFar - 2);
      expect(m('sluice_sink_retries_total')).toBeGreaterThanOrEqual(1);
      expect(m('sluice_sink_up', { role: 'sink' })).toBe(0);
      expect(m('sluice_sink_up', { role: 'dead-letter' })).toBe(1);
      expect(m('sluice_events_written_total')).toBe(before.length);
      await pollUntil(async () => (await readyz(server)).status === 503, '/readyz to turn 503');
      const notReady = await readyz(server);
      expect(notReady.body).toMatch(/^sink failing every write for \d+ s$/m);
      expect(((await (await fetch(`${server.url}/api/stats`)).json()) as { ready: boolean }).ready).toBe(
        false,
      );
      m = await scrape(server);
      expect(m('sluice_sink_failing_seconds', { role: 'sink' })).toBeGreaterThanOrEqual(0.4);
      const errorsDown = m('sluice_sink_errors_total', { retryable: 'true' });
      await waitForWord(words, WRITES_FAILED, (n) => n >= errorsDown + 3, 'more failing writes');
      expect((await scrape(server))('sluice_sink_errors_total', { retryable: 'true' })).toBeGreaterThan(
        errorsDown,
      );

      Atomics.store(words, FAILING, 0);
      await pushed;
      await pipeline.drained();
      await pollUntil(async () => (await readyz(server)).status === 200, '/readyz to turn 200 again');
      m = await scrape(server);
      expect(m('sluice_sink_up', { role: 'sink' })).toBe(1);
      expect(m('sluice_sink_failing_seconds', { role: 'sink' })).toBe(0);
      expect(m('sluice_events_written_total')).toBe(before.length + during.length);
      // Two scrapers back to back, after the outage: the same counters.
      const [a, b] = [await scrape(server), await scrape(server)];
      for (const [name, labels] of [
        ['sluice_sink_errors_total', { retryable: 'true' }],
        ['sluice_sink_retries_total', {}],
        ['sluice_events_written_total', {}],
      ] as const)
        expect(b(name, labels)).toBe(a(name, labels));
      expect(distinctSorted(s.rows().map((r) => r.id))).toEqual([...before, ...during].sort());
      expect(s.deadLetters()).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('is ready again once a dead-letter sink that could not open opens, though nothing is dead-lettered after', async () => {
    const s = scene();
    const control = createControl();
    const words = new Int32Array(control);
    const markerDir = mkdtempSync(join(tmpdir(), 'sluice-markers-'));
    try {
      const pipeline = await s.pipeline({
        workers: { min: 1, max: 1 },
        transform: fixtureUrl('crash-transform'),
        sink: { type: 'sqlite', path: s.dbPath },
        deadLetter: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
        retry: { initialDelayMs: 5, maxDelayMs: 40 },
        metrics: { sinkDownAfterMs: 0 },
      });
      // The worker dies on this event's first attempt; its replacement opens the sinks anew, and
      // the dead-letter sink cannot be opened.
      Atomics.store(words, OPEN_FAILING, 1);
      await pipeline.push({ id: 'restart-1', payload: { crash: 'exit', markerDir } });
      await pollUntil(
        async () =>
          pipeline.health().reasons.some((r) => r.startsWith('dead-letter sink failing every write')),
        'readiness to name the dead-letter sink',
      );
      expect(pipeline.health().ready).toBe(false);
      Atomics.store(words, OPEN_FAILING, 0);
      await pipeline.drained();
      // The event went to the sink alone; the dead-letter sink was opened and never written to.
      expect(pipeline.stats().written).toBe(1);
      expect(s.rows()).toEqual([]);
      expect(pipeline.health()).toEqual({ alive: true, ready: true, reasons: [] });
      expect(await pipeline.metrics.metrics()).toMatch(
        /^sluice_sink_up\{sink="custom",role="dead-letter"\} 1$/m,
      );
    } finally {
      rmSync(markerDir, { recursive: true, force: true });
    }
  });

  it('refuses a sinkDownAfterMs that is no integer of milliseconds, naming the field', async () => {
    const s = scene();
    await expect(
      s.pipeline({
        sink: { type: 'null' },
        deadLetter: { type: 'ndjson', path: s.deadLetterPath },
        metrics: { sinkDownAfterMs: -1 },
      }),
    ).rejects.toThrow(/metrics\.sinkDownAfterMs must be an integer of milliseconds ≥ 0, got -1/);
  });
});
