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

interface Outcome {
  /** Times each id was delivered. */
  delivered: Map<string, number>;
  counters: PipelineCounters;
  /** Threads that loaded the worker module. */
  loads: number;
  poolErrors: string;
  warnings: { msg: string; batches?: number; records?: number }[];
}

/**
 * 500 events through a Dispatcher on a pool of one thread (restart-failing-worker): the first
 * thread dies on its first batch, piscina's replacement fails while starting — after which piscina
 * replaces no thread on its own — and any later thread delivers. With a transform named, tasks
 * carry an abort signal (runsUserCode); without, none.
 */
async function poolThatStopsReplacing(withTransform: boolean): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-stalled-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'delivered.txt');
  const options = resolvePipelineOptions({
    // One batch at a time, so that the first thread dies with one batch on it, whichever way.
    workers: { min: 1, max: 1, concurrentBatchesPerWorker: 1, taskTimeoutMs: 400, startupTimeoutMs: 400 },
    batch: { maxRecords: 64 },
    // Never loaded: the fixture worker runs no transform; it only makes tasks carry a signal.
    ...(withTransform ? { transform: fixtureUrl('behaviour-transform') } : {}),
  });
  const queue = EventQueue.create(options.queue);
  const clock = new TaskClock(taskSlots(options.workers));
  const starts = new SharedArrayBuffer(4);
  const workerData: RestartFailingData = { handle: queue.handle, taskStarts: clock.buffer, starts, out };
  const pool = new Piscina({
    filename: fixtureUrl('restart-failing-worker').href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    workerData,
    atomics: 'disabled',
  });
  const poolErrors: unknown[] = [];
  pool.on('error', (error) => poolErrors.push(error));
  cleanups.push(() => pool.destroy());
  const counters = new PipelineCounters();
  const dispatcher = new Dispatcher(queue, pool, options, counters, clock);
  const warnings: Outcome['warnings'] = [];
  dispatcher.logger = pino(
    { level: 'warn' },
    { write: (line: string) => warnings.push(JSON.parse(line) as Outcome['warnings'][number]) },
  );
  cleanups.push(() => dispatcher.stop());
  dispatcher.start();

  const producer = new AsyncQueueProducer(queue);
  expect(await producer.pushMany(IDS.map((id) => ({ id, payload: { n: id } })))).toBe(IDS.length);
  const released = dispatcher.releasedUpToNow().then(() => 'released' as const);
  const outcome = await Promise.race([released, sleep(10_000).then(() => 'stuck' as const)]);
  expect(outcome).toBe('released');

  const delivered = new Map<string, number>();
  for (const id of readFileSync(out, 'utf8').trim().split('\n'))
    delivered.set(id, (delivered.get(id) ?? 0) + 1);
  return {
    delivered,
    counters,
    loads: Atomics.load(new Int32Array(starts), 0),
    poolErrors: poolErrors.map(String).join('\n'),
    warnings,
  };
}

const IDS = Array.from({ length: 500 }, (_, i) => `e${i}`);

function expectEachOnce(delivered: Map<string, number>): void {
  expect([...delivered.keys()].sort()).toEqual([...IDS].sort());
  expect([...delivered.values()].every((n) => n === 1)).toBe(true);
}

describe('a batch waiting in a pool that stopped replacing its workers', () => {
  it('without an abort signal (no user code): the dispatcher starts a thread for it, and every event is delivered once', async () => {
    const { delivered, counters, loads, poolErrors, warnings } = await poolThatStopsReplacing(false);
    expectEachOnce(delivered);
    expect(counters.written).toBe(IDS.length);
    expect(counters.workerFailures).toBe(1);
    expect(counters.splits).toBe(1);
    // The first thread died, the second failed while starting, a third delivered.
    expect(loads).toBeGreaterThanOrEqual(3);
    expect(poolErrors).toContain('this worker fails while starting');
    const stalled = warnings.filter((w) => w.msg.includes('waited for a worker'));
    expect(stalled.length).toBeGreaterThanOrEqual(1);
    expect(stalled[0]!.batches).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('with one (user code): taken out of the queue and dispatched again whole — not counted as a crash, not split further', async () => {
    const { delivered, counters, loads, warnings } = await poolThatStopsReplacing(true);
    expectEachOnce(delivered);
    expect(counters.written).toBe(IDS.length);
    // Only the first thread's death counts; its batch split once, to run alone.
    expect(counters.workerFailures).toBe(1);
    expect(counters.splits).toBe(1);
    expect(loads).toBeGreaterThanOrEqual(3);
    const again = warnings.filter((w) => w.msg.includes('dispatched again'));
    expect(again.length).toBeGreaterThanOrEqual(1);
    expect(again[0]!.records).toBeGreaterThanOrEqual(1);
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
