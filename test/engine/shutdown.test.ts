/**
 * Shutdown: close() stops intake, waits until every accepted event is written or dead-lettered,
 * then closes sinks and workers. With a deadline it gives up, saying how much was left.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import type { ShutdownTimeoutError } from '../../src/errors.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { RESERVE_FULL } from '../../src/queue/ring-buffer.js';
import { createControl, WRITES_AT_GATE } from '../fixtures/engine/control.js';
import { distinctSorted, fixtureUrl, ids, openGate, useScenes, waitForWord } from '../helpers/engine.js';

const scene = useScenes();

describe('shutdown', () => {
  it('close() resolves only after every accepted event is written, and its summary says so', async () => {
    const s = scene();
    const N = 3000;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 512 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 50 },
      // A slow sink: when close() is called most of the events are still in the ring.
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ delayMs: 5 }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('close', N);
    expect(await pipeline.pushMany(all.map((id, i) => ({ id, payload: { i } })))).toBe(N);
    const pendingAtClose = pipeline.stats().queue.depthRecords;
    expect(pendingAtClose).toBeGreaterThan(N / 2);

    const summary = await pipeline.close();
    expect(
      s
        .rows()
        .map((r) => r.id)
        .sort(),
    ).toEqual(all);
    expect(summary.written).toBe(N);
    expect(summary.queue.depthRecords).toBe(0);
    expect(summary.uptimeSeconds).toBeGreaterThan(0);
  });

  it('close() with a timeout rejects with SLUICE_SHUTDOWN_TIMEOUT, counting the events left, when the sink never acknowledges', async () => {
    const s = scene();
    const N = 500;
    const control = createControl(false);
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushMany(ids('stuck', N).map((id) => ({ id, payload: {} })));
    await waitForWord(new Int32Array(control), WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');

    const started = performance.now();
    const error = (await pipeline.close({ timeoutMs: 300 }).catch((e: unknown) => e)) as ShutdownTimeoutError;
    expect(error).toMatchObject({ code: 'SLUICE_SHUTDOWN_TIMEOUT', pendingEvents: N });
    expect(error.message).toContain(`${N} events`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(s.rows()).toEqual([]);
    // Closing again reports the same outcome instead of starting over.
    await expect(pipeline.close()).rejects.toBe(error);
  });

  it('close() refuses a timeoutMs that is not a number of ms, and waits out one past the longest Node timer instead of giving up at once', async () => {
    const s = scene();
    const N = 200;
    const control = createControl(false);
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('long', N);
    await pipeline.pushMany(all.map((id) => ({ id, payload: {} })));
    await waitForWord(new Int32Array(control), WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    for (const timeoutMs of [Number.NaN, -1, '5000']) {
      await expect(pipeline.close({ timeoutMs: timeoutMs as number })).rejects.toMatchObject({
        code: 'SLUICE_INVALID_OPTION',
        message: expect.stringContaining('close() timeoutMs must be a number of milliseconds from 0'),
      });
    }
    // Refused before anything started: the pipeline still takes events.
    expect(await pipeline.push({ id: 'after-refusals', payload: {} })).toBe(true);
    // 2^31 ms: Node's own timer would fire after 1 ms and close() would give up on the drain.
    const closing = pipeline.close({ timeoutMs: 2 ** 31 });
    const settled = await Promise.race([
      closing.then(
        () => 'settled',
        () => 'settled',
      ),
      sleep(300),
    ]);
    expect(settled).toBeUndefined();
    openGate(new Int32Array(control));
    const summary = await closing;
    expect(summary.written).toBe(N + 1);
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual([...all, 'after-refusals'].sort());
  });

  it('close() returns promptly right after createPipeline, without waiting out the worker close handshake', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      transform: fixtureUrl('behaviour-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const started = performance.now();
    await pipeline.close();
    // The handshake gives up on a silent worker after 5 s; a healthy close takes milliseconds.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('close() returns promptly right after a worker crash, without waiting out the worker close handshake', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.push({ id: 'crash-once', payload: { crash: 'exit', markerDir: s.dir } });
    await pipeline.drained();
    expect(pipeline.stats().workerFailures).toBeGreaterThan(0);
    const started = performance.now();
    await pipeline.close();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(s.rows().map((r) => r.id)).toEqual(['crash-once']);
  });

  it('close() with a timeout stops waiting for a reservation a dead producer thread never published, and leaves no timer behind', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { type: 'null' },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    // What a producer thread that died between reserve and publish leaves in shared memory.
    const ring = EventQueue.attach(pipeline.producerHandle).rings[0]!;
    expect(ring.tryReserve(64)).not.toBe(RESERVE_FULL);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();
    const idle = vi.spyOn(Dispatcher.prototype, 'idle');
    try {
      const error = await pipeline.close({ timeoutMs: 200 }).catch((e: unknown) => e);
      // Nothing was accepted: the reservation was never published, so no event is pending.
      expect(error).toMatchObject({ code: 'SLUICE_SHUTDOWN_TIMEOUT', pendingEvents: 0 });
      expect(timers()).toBeLessThanOrEqual(timersBefore);
      const checks = idle.mock.calls.length;
      // Long enough for dozens of the wait loop's 1 ms polls, had it gone on after the rejection.
      await sleep(50);
      expect(idle.mock.calls.length).toBe(checks);
    } finally {
      idle.mockRestore();
    }
  });
});
