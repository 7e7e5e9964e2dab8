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

interface Warning {
  level: number;
  msg: string;
  batches?: number;
  records?: number;
}

interface Outcome {
  /** Times each id was delivered. */
  delivered: Map<string, number>;
  counters: PipelineCounters;
  /** Threads that loaded the worker module. */
  loads: number;
  poolErrors: string;
  warnings: Warning[];
}

const IDS = Array.from({ length: 500 }, (_, i) => `e${i}`);

/**
 * 500 events through a Dispatcher on a pool of one thread (restart-failing-worker): the threads
 * whose load is in `failLoads` fail while starting, those in `dieLoads` die on their first batch,
 * the others deliver. With a transform named, tasks carry an abort signal (runsUserCode); without,
 * none.
 */
async function throughPool(
  withTransform: boolean,
  failLoads: number[],
  dieLoads: number[],
): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-stalled-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'delivered.txt');
  const options = resolvePipelineOptions({
    // One batch at a time, so that a thread dies with one batch on it, whichever way; a cold
    // thread's first batch has most of the deadline.
    workers: { min: 1, max: 1, concurrentBatchesPerWorker: 1, taskTimeoutMs: 900, startupTimeoutMs: 100 },
    batch: { maxRecords: 64 },
    retry: { initialDelayMs: 10, maxDelayMs: 100 },
    // Never loaded: the fixture worker runs no transform; it only makes tasks carry a signal.
    ...(withTransform ? { transform: fixtureUrl('behaviour-transform') } : {}),
  });
  const queue = EventQueue.create(options.queue);
  const clock = new TaskClock(taskSlots(options.workers));
  const starts = new SharedArrayBuffer(4);
  const workerData: RestartFailingData = {
    handle: queue.handle,
    taskStarts: clock.buffer,
    starts,
    out,
    failLoads,
    dieLoads,
  };
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
  const warnings: Warning[] = [];
  dispatcher.logger = pino(
    { level: 'warn' },
    { write: (line: string) => warnings.push(JSON.parse(line) as Warning) },
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

function expectEachOnce({ delivered, counters }: Outcome): void {
  expect([...delivered.keys()].sort()).toEqual([...IDS].sort());
  expect([...delivered.values()].every((n) => n === 1)).toBe(true);
  expect(counters.written).toBe(IDS.length);
  expect(counters.deadLetteredTotal).toBe(0);
}

const said = (outcome: Outcome, text: string) => outcome.warnings.filter((w) => w.msg.includes(text));

describe('a batch waiting in a pool that stopped replacing its workers', () => {
  // The first thread dies on its first batch; piscina's replacement fails while starting, after which
  // piscina replaces no thread on its own; a third thread delivers.
  it('without an abort signal (no user code): the dispatcher starts a thread for it, and every event is delivered once', async () => {
    const outcome = await throughPool(false, [2], [1]);
    expectEachOnce(outcome);
    // Only the first thread's death counts; its batch split once, to run alone.
    expect(outcome.counters.workerFailures).toBe(1);
    expect(outcome.counters.splits).toBe(1);
    expect(outcome.counters.redispatched).toBe(1);
    expect(outcome.loads).toBeGreaterThanOrEqual(3);
    expect(outcome.poolErrors).toContain('worker load 2 fails while starting');
    const stalled = said(outcome, 'starting another');
    expect(stalled.length).toBeGreaterThanOrEqual(1);
    expect(stalled[0]!.batches).toBe(1);
    expect(said(outcome, 'dispatched again')).toEqual([]);
  }, 30_000);

  it('with one (user code): taken out of the queue and dispatched again whole — not counted as a crash, not split further', async () => {
    const outcome = await throughPool(true, [2], [1]);
    expectEachOnce(outcome);
    expect(outcome.counters.workerFailures).toBe(1);
    expect(outcome.counters.splits).toBe(1);
    // The split, and the half taken out of the queue.
    expect(outcome.counters.redispatched).toBe(2);
    expect(outcome.loads).toBeGreaterThanOrEqual(3);
    const again = said(outcome, 'waited for a worker past');
    expect(again).toHaveLength(1);
    expect(again[0]!.records).toBe(32);
    expect(said(outcome, 'starting another')).toEqual([]);
  }, 30_000);
});

describe('a batch posted to a thread that died before it read it', () => {
  for (const withTransform of [false, true]) {
    it(`is dispatched again whole, not counted as a crash (${withTransform ? 'with' : 'without'} an abort signal)`, async () => {
      // Piscina takes its first thread as ready from its creation and posts the first batch to it;
      // the thread fails while starting.
      const outcome = await throughPool(withTransform, [1], []);
      expectEachOnce(outcome);
      expect(outcome.counters.workerFailures).toBe(0);
      expect(outcome.counters.splits).toBe(0);
      expect(outcome.counters.redispatched).toBeGreaterThanOrEqual(1);
      expect(outcome.loads).toBeGreaterThanOrEqual(2);
      const again = said(outcome, 'failed before a worker started it');
      expect(again.length).toBeGreaterThanOrEqual(1);
      expect(again[0]!.records).toBe(64);
    }, 30_000);
  }
});

describe('TaskDeadlines: tasks without a signal that wait for a worker', () => {
  it('reports tasks not started past startupTimeoutMs + taskTimeoutMs, once per such wait; a started one is timed out, never reported', async () => {
    const clock = new TaskClock(4);
    const starts = new BigInt64Array(clock.buffer);
    const reports: { at: number; tasks: number }[] = [];
    const limits = { taskTimeoutMs: 60, startupTimeoutMs: 60 };
    const deadlines = new TaskDeadlines(clock, limits, false, (tasks) =>
      reports.push({ at: wallClockMs(), tasks }),
    );
    cleanups.push(() => deadlines.stop());
    const first = deadlines.start();
    const second = deadlines.start();
    const early = deadlines.start();
    markTaskStarted(starts, early.slot!, wallClockMs(), 1);
    await sleep(100);
    // Started at ~100 ms: its deadline (~160 ms) is after the first report (≥ 120 ms).
    const late = deadlines.start();
    markTaskStarted(starts, late.slot!, wallClockMs(), 2);
    while (reports.length < 3) await sleep(20);
    // Both waiting tasks in one report, never the started ones.
    expect(reports.every((r) => r.tasks === 2)).toBe(true);
    expect(reports[0]!.at - first.dispatchedAt).toBeGreaterThanOrEqual(119);
    for (let i = 1; i < reports.length; i++)
      expect(reports[i]!.at - reports[i - 1]!.at).toBeGreaterThanOrEqual(119);
    expect(early.timedOut && late.timedOut).toBe(true);
    expect(early.abort.aborted && late.abort.aborted).toBe(true);
    expect(first.timedOut || second.timedOut).toBe(false);
    expect(deadlines.started(first)).toBe(false);
    expect(deadlines.started(late)).toBe(true);
    deadlines.finish(first, false);
    deadlines.finish(second, false);
    const after = reports.length;
    await sleep(300);
    expect(reports.length).toBe(after);
  });

  it('gives a slot freed unstarted out again only after every other free slot', () => {
    const clock = new TaskClock(3);
    const deadlines = new TaskDeadlines(clock, { taskTimeoutMs: 1000, startupTimeoutMs: 1000 }, false);
    cleanups.push(() => deadlines.stop());
    const a = deadlines.start();
    const b = deadlines.start();
    deadlines.finish(a, false);
    const c = deadlines.start();
    expect(c.slot).not.toBe(a.slot);
    deadlines.finish(b, true);
    expect(deadlines.start().slot).toBe(b.slot);
    expect(deadlines.start().slot).toBe(a.slot);
  });
});
