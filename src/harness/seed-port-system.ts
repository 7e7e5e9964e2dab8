import { threadId } from 'node:worker_threads';
import { pino } from 'pino';
import type { SluiceEvent } from '../codec/event.js';
import { resolveRetryOptions } from '../config/retry-options-schema.js';
import {
  deadLetterRetry,
  type OneThreadPath,
  type OneThreadRoute,
  runEventPath,
  type TransformStage,
} from '../engine/event-path.js';
import { RouteTable } from '../engine/route-table.js';
import { writesTextOnly } from '../engine/worker-sinks.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { loadTransform } from '../transforms/transform.js';
import type { SystemResult } from './bench-report.js';
import { openFeed } from './event-feed.js';
import { benchMaker, type LoadPlan, runLoadAsync } from './load-generator.js';
import { RunSampler } from './run-sampler.js';
import { benchDeadLetterSpec, benchSinkSpec, type RunInstruments, type RunSettings } from './run-settings.js';
import { blocksOf, loadPlans, systemResult } from './systems.js';

/** A bounded FIFO for one thread: `offer` fails when full, `space()`/`items()` wait. */
class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #head = 0;
  #spaceWaiters: (() => void)[] = [];
  #itemWaiters: (() => void)[] = [];
  closed = false;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  offer(item: T): boolean {
    if (this.length >= this.#capacity) return false;
    this.#items.push(item);
    this.#wake(this.#itemWaiters);
    return true;
  }

  /** Up to `max` items, waiting while empty; an empty list once closed and empty. */
  async take(max: number): Promise<T[]> {
    while (this.length === 0) {
      if (this.closed) return [];
      await new Promise<void>((resolve) => this.#itemWaiters.push(resolve));
    }
    const n = Math.min(max, this.length);
    const out = this.#items.slice(this.#head, this.#head + n);
    this.#head += n;
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    this.#wake(this.#spaceWaiters);
    return out;
  }

  space(): Promise<void> {
    return this.length < this.#capacity
      ? Promise.resolve()
      : new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.#wake(this.#itemWaiters);
  }

  #wake(waiters: (() => void)[]): void {
    const list = waiters.splice(0);
    for (const resolve of list) resolve();
  }
}

const QUEUE_CAPACITY = 16_384;
const CONSUMERS = 4;
const BATCH = 1000;

/**
 * The seed design done right in one thread: a bounded async queue, N concurrent consumers taking
 * batches through the engine's own event path (src/engine/event-path.ts: the same transform step,
 * the same sink with the same retry, the same dead-letter writing). Events stay JavaScript objects:
 * nothing is serialised between producer and consumer, which is this design's advantage.
 */
export async function runSeedPort(
  settings: RunSettings,
  instruments: RunInstruments,
  name = 'seed-port',
): Promise<SystemResult> {
  const { scenario } = settings;
  // A configured pipeline's retry and batch size, so the one thread does the engine's work.
  const retry = scenario.pipeline?.retry ?? resolveRetryOptions(scenario.retry);
  const batchSize = settings.batchMaxRecords ?? scenario.pipeline?.batch.maxRecords ?? BATCH;
  const lettersRetry = deadLetterRetry(retry);
  const silent = pino({ enabled: false });
  const sinkSpec = benchSinkSpec(settings, instruments, `seed_${process.pid}_${Date.now()}`);
  const stage: TransformStage = {
    transform: await loadTransform(scenario.transform.href, { threadId }),
    textSink: writesTextOnly(sinkSpec),
  };
  const sink = await createSink(sinkSpec, {
    threadId,
    role: 'sink',
    ordering: 'none',
  });
  const deadLetters = await createSink(benchDeadLetterSpec(instruments, settings), {
    threadId,
    role: 'deadLetter',
    ordering: 'none',
  });
  await sink.open();
  await deadLetters.open();
  const path: OneThreadPath = { stage, sink, deadLetter: deadLetters, retry, lettersRetry, log: silent };
  // Several routes: each route's sink (and own dead-letter sink) behind its own ledger, as the engine.
  const configuredRoutes = Object.entries(scenario.pipeline?.routes ?? {});
  const opened: Sink[] = [];
  if (configuredRoutes.length > 1) {
    const open = async (spec: ResolvedSinkSpec, role: 'sink' | 'deadLetter') => {
      const built = await createSink(spec, { threadId, role, ordering: 'none' });
      await built.open();
      opened.push(built);
      return built;
    };
    const routes: OneThreadRoute[] = [];
    for (const [name, route] of configuredRoutes) {
      const routeSink = await open(
        benchSinkSpec(settings, instruments, `seed_${name}_${process.pid}_${Date.now()}`, {
          name,
          sink: route.sink,
        }),
        'sink',
      );
      const routeLetters = route.deadLetter
        ? await open(benchDeadLetterSpec(instruments, settings, route.deadLetter), 'deadLetter')
        : deadLetters;
      routes.push({
        sink: routeSink,
        deadLetter: routeLetters,
        retry: route.retry,
        lettersRetry: deadLetterRetry(route.retry),
      });
    }
    path.routes = {
      table: new RouteTable(scenario.pipeline!.routes, scenario.pipeline!.defaultRoute),
      routes,
    };
  }
  const queue = new BoundedQueue<SluiceEvent | string>(QUEUE_CAPACITY);
  const sampler = new RunSampler(name, settings, instruments, () => queue.length);
  let blockedMs = 0;

  const consumer = async () => {
    for (;;) {
      const batch = await queue.take(batchSize);
      if (batch.length === 0) return;
      await runEventPath(batch, path);
    }
  };

  const started = performance.now();
  const consumers = Array.from({ length: CONSUMERS }, consumer);
  const [plan] = loadPlans(settings, instruments, 1) as [LoadPlan];
  const make = plan.feed ? await openFeed(plan.feed) : benchMaker(plan);
  instruments.beginLoad(settings.durationMs);
  const outcome = await runLoadAsync(
    plan,
    async (events) => {
      for (const event of events) {
        while (!queue.offer(event)) {
          const t = performance.now();
          await queue.space();
          blockedMs += performance.now() - t;
        }
      }
      return events.length;
    },
    make,
  );
  queue.close();
  await Promise.all(consumers);
  const seconds = (performance.now() - started) / 1000;
  sampler.stop();
  await sink.close();
  await deadLetters.close();
  await Promise.all(opened.map((s) => s.close()));
  return systemResult(name, settings, instruments, blocksOf([plan], [outcome]), seconds, sampler, {
    producerBlockedMs: blockedMs,
    workers: CONSUMERS,
  });
}
