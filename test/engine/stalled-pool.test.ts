import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Piscina } from 'piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { Dispatcher } from '../../src/engine/dispatcher.js';
import { PipelineCounters } from '../../src/engine/pipeline-stats.js';
import { markTaskStarted, TaskClock, taskSlots } from '../../src/engine/task-clock.js';
import { TaskDeadlines } from '../../src/engine/task-deadlines.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { AsyncQueueProducer } from '../../src/queue/producer.js';
import { wallClockMs } from '../../src/queue/record-codec.js';
import type { RestartFailingData } from '../fixtures/engine/restart-failing-worker.js';
import { fixtureUrl } from '../helpers/engine.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('a batch without an abort signal, waiting in a pool that stopped replacing its workers', () => {
  it('gets a worker: the first dies on its batch, its replacement fails while starting, and every event is still delivered once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stalled-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'delivered.txt');
    // No transform and built-in sinks only: tasks carry no abort signal (runsUserCode).
    const options = resolvePipelineOptions({
      workers: { min: 1, max: 1, taskTimeoutMs: 400, startupTimeoutMs: 400 },
      batch: { maxRecords: 64 },
    });
    expect(options.transform).toBeUndefined();
    const queue = EventQueue.create(options.queue);
    const clock = new TaskClock(taskSlots(options.workers));
    const starts = new SharedArrayBuffer(4);
    const workerData: RestartFailingData = { handle: queue.handle, taskStarts: clock.buffer, starts, out };
    const pool = new Piscina({
      filename: fixtureUrl('restart-failing-worker').href,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: options.workers.concurrentBatchesPerWorker,
      workerData,
      atomics: 'disabled',
    });
    const poolErrors: unknown[] = [];
    pool.on('error', (error) => poolErrors.push(error));
    cleanups.push(() => pool.destroy());
    const counters = new PipelineCounters();
    const dispatcher = new Dispatcher(queue, pool, options, counters, clock);
    const warnings: { msg: string; batches?: number }[] = [];
    dispatcher.logger = pino(
      { level: 'warn' },
      { write: (line: string) => warnings.push(JSON.parse(line) as { msg: string; batches?: number }) },
    );
    cleanups.push(() => dispatcher.stop());
    dispatcher.start();

    const producer = new AsyncQueueProducer(queue);
    const ids = Array.from({ length: 500 }, (_, i) => `e${i}`);
    expect(await producer.pushMany(ids.map((id) => ({ id, payload: { n: id } })))).toBe(500);
    const released = dispatcher.releasedUpToNow().then(() => 'released' as const);
    // Without the start-up task submitted at the deadline, the batches wait for good.
    const outcome = await Promise.race([released, sleep(10_000).then(() => 'stuck' as const)]);
    expect(outcome).toBe('released');

    const delivered = readFileSync(out, 'utf8').trim().split('\n');
    const times = new Map<string, number>();
    for (const id of delivered) times.set(id, (times.get(id) ?? 0) + 1);
    expect([...times.keys()].sort()).toEqual([...ids].sort());
    expect([...times.values()].every((n) => n === 1)).toBe(true);
    expect(counters.written).toBe(500);
    expect(counters.workerFailures).toBeGreaterThanOrEqual(1);
    // The first thread died, the second failed while starting, a third delivered.
    expect(Atomics.load(new Int32Array(starts), 0)).toBeGreaterThanOrEqual(3);
    expect(poolErrors.map(String).join('\n')).toContain('this worker fails while starting');
    const stalled = warnings.filter((w) => w.msg.includes('waited for a worker'));
    expect(stalled.length).toBeGreaterThanOrEqual(1);
    expect(stalled[0]!.batches).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe('TaskDeadlines: tasks without a signal that wait for a worker', () => {
  it('reports a task not started past startupTimeoutMs + taskTimeoutMs, then again no sooner than as long after; a started one never', async () => {
    const clock = new TaskClock(4);
    const reports: { at: number; tasks: number }[] = [];
    const limits = { taskTimeoutMs: 60, startupTimeoutMs: 60 };
    const deadlines = new TaskDeadlines(clock, limits, false, (tasks) =>
      reports.push({ at: wallClockMs(), tasks }),
    );
    cleanups.push(() => deadlines.stop());
    const waiting = deadlines.start();
    const running = deadlines.start();
    markTaskStarted(new BigInt64Array(clock.buffer), running.slot!, wallClockMs(), 1);
    while (reports.length < 3) await sleep(20);
    // Only the waiting task: the running one is timed from its start, and aborted, not reported.
    expect(reports.every((r) => r.tasks === 1)).toBe(true);
    expect(reports[0]!.at - waiting.dispatchedAt).toBeGreaterThanOrEqual(120);
    for (let i = 1; i < reports.length; i++)
      expect(reports[i]!.at - reports[i - 1]!.at).toBeGreaterThanOrEqual(120);
    expect(running.timedOut).toBe(true);
    expect(running.abort.aborted).toBe(true);
    expect(waiting.timedOut).toBe(false);
    deadlines.finish(waiting);
    const after = reports.length;
    await sleep(300);
    expect(reports.length).toBe(after);
  });
});
