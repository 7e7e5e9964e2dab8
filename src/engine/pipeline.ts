import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import type { SluiceEvent } from '../codec/event.js';
import {
  type PipelineOptions,
  type ResolvedPipelineOptions,
  resolvePipelineOptions,
} from '../config/pipeline-options.js';
import { describeError } from '../delivery/dead-letter.js';
import {
  ClosedError,
  InvalidOptionError,
  reviveError,
  ShutdownTimeoutError,
  StartupTimeoutError,
} from '../errors.js';
import { createLogger } from '../logging/logger.js';
import { longTimeout } from '../long-timeout.js';
import { LiveHistory, type LiveStats, liveStats } from '../metrics/live-stats.js';
import {
  M_DEAD_LETTER_SINK_FAILING_SINCE_MS,
  MetricsBlock,
  R_DEAD_LETTER_FAILING_SINCE_MS,
  R_SINK_FAILING_SINCE_MS,
  routeSlot,
} from '../metrics/metrics-block.js';
import {
  createPipelineMetrics,
  type Failing,
  type PipelineMetrics,
  type SinkFailing,
} from '../metrics/pipeline-metrics.js';
import { RecentWindow } from '../metrics/recent-window.js';
import { DiskQueueProducer } from '../queue/disk-producer.js';
import { EventQueue, type QueueHandle, type QueueStats } from '../queue/event-queue.js';
import { AsyncQueueProducer, QueueProducer, type RawRecord } from '../queue/producer.js';
import type { LineBatch } from '../queue/record-run.js';
import { sinkName } from '../sinks/sink-name.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { writerLockBuffer } from '../sinks/writer-lock.js';
import type { Source, SourceTarget } from '../sources/source.js';
import { SourceHealthWatch } from '../sources/source-health.js';
import { arrayBufferSweeping, holdInlineArrayBufferSweeping } from './array-buffer-sweeping.js';
import type { BatchTask, WorkerSetup } from './batch-task.js';
import { Dispatcher } from './dispatcher.js';
import { DurableIntake, type DurableIntakeStats } from './durable-intake.js';
import { PipelineCounters, type PipelineCountersSnapshot } from './pipeline-stats.js';
import { TaskClock, taskSlots } from './task-clock.js';
import { asWorkerMessage, type WorkerMessage } from './worker-messages.js';
import { createWorkerPool, type PrestartedPool, type WorkerPool } from './worker-pool.js';

export interface PipelineStats extends PipelineCountersSnapshot {
  /**
   * Records each route's sink acknowledged, by route name (`default` without routes); an event sent
   * to several routes counts in each, while `written` counts it once.
   */
  writtenByRoute: Record<string, number>;
  /** The whole queue: every partition's ring summed. */
  queue: QueueStats;
  /** Each partition's ring. */
  partitions: QueueStats[];
  workers: number;
  runningBatches: number;
  /** With `queue.durability: 'disk'`: the log's figures, and the backlog beyond the ring. */
  disk?: DurableIntakeStats;
}

export interface PipelineSummary extends PipelineStats {
  /** Seconds from creation to the end of close(). */
  uptimeSeconds: number;
}

export interface CloseOptions {
  /**
   * Give up waiting for the drain after this long, ms: close() rejects with ShutdownTimeoutError,
   * naming what is left. The whole close then settles within this plus SINK_CLOSE_GRACE_MS (the
   * workers' last chance to close their sinks) and the time to end the threads.
   */
  timeoutMs?: number;
}

/** How long workers get to close their sinks once a close() is past its deadline, ms. */
export const SINK_CLOSE_GRACE_MS = 1000;
/** How long workers get to close their sinks after a drain, when close() has no deadline, ms. */
const SINK_CLOSE_MS = 5000;

/**
 * A running pipeline: producers push into the ring, the dispatcher feeds piscina workers, workers
 * write to the sink. Create it with `createPipeline`.
 */
export class Pipeline implements SourceTarget {
  readonly options: ResolvedPipelineOptions;
  readonly #queue: EventQueue;
  readonly #producer: AsyncQueueProducer;
  /** With queue.durability 'disk': every push goes through the disk log too. */
  readonly #intake: DurableIntake | undefined;
  readonly #pool: WorkerPool;
  readonly #destroyPool: () => Promise<void>;
  /** The pool was started before this pipeline existed (PrestartedPool) and taken. */
  readonly #poolStartedEarly: boolean;
  /** Gives V8's concurrent ArrayBuffer sweeping back once the workers are gone (a no-op when not taken). */
  #releaseSweeping: () => void = () => {};
  readonly #dispatcher: Dispatcher;
  readonly #counters = new PipelineCounters();
  readonly #block = new MetricsBlock();
  readonly #clock: TaskClock;
  #metrics: PipelineMetrics | undefined;
  #recent: RecentWindow | undefined;
  #sourceHealth: SourceHealthWatch | undefined;
  #history: LiveHistory | undefined;
  #logger: Logger = pino({ enabled: false });
  readonly #closeChannel: string;
  readonly #created = performance.now();
  #closing: Promise<PipelineSummary> | undefined;

  /** @internal use createPipeline */
  constructor(options: ResolvedPipelineOptions, prestarted?: PrestartedPool) {
    this.options = options;
    this.#queue = EventQueue.create(options.queue);
    this.#producer = new AsyncQueueProducer(this.#queue);
    // Opened before the workers: a log another process holds fails createPipeline() at once.
    if (options.queue.durability === 'disk')
      this.#intake = new DurableIntake(options.queue, this.#queue, (error) =>
        this.#logger.error({ err: error }, 'disk queue: reading the log back failed; pushes now fail'),
      );
    this.#clock = new TaskClock(taskSlots(options.workers));
    this.#closeChannel = `sluice-close-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const setup: WorkerSetup = {
      queue: this.#queue.handle,
      options: {
        transform: options.transform,
        routes: options.routes,
        defaultRoute: options.defaultRoute,
        deadLetter: options.deadLetter,
        retry: options.retry,
        ordering: options.ordering,
        log: options.log,
        metrics: options.metrics,
        maxNestingDepth: options.maxNestingDepth,
      },
      closeChannel: this.#closeChannel,
      metrics: this.#block.buffer,
      writerLocks: {
        deadLetter: writerLockBuffer(),
        routes: Object.values(options.routes).map(() => ({
          sink: writerLockBuffer(),
          deadLetter: writerLockBuffer(),
        })),
      },
      taskStarts: this.#clock.buffer,
    };
    const taken = prestarted?.take(options.workers, setup);
    this.#poolStartedEarly = taken !== undefined;
    this.#pool = taken?.pool ?? createWorkerPool(options.workers, setup);
    this.#destroyPool = taken?.destroy ?? (() => this.#pool.destroy());
    this.#dispatcher = new Dispatcher(
      this.#queue,
      this.#pool,
      options,
      this.#counters,
      this.#clock,
      options.metrics.enabled === false ? undefined : this.#block,
    );
  }

  /** Structured logs of this pipeline's main thread (workers log to the same destination). */
  get logger(): Logger {
    return this.#logger;
  }

  /**
   * @internal Loads the transform and opens the sinks in a worker (a broken module or an
   * unreachable sink fails here, with its own code), then starts dispatching. Past
   * workers.startupTimeoutMs it gives up with StartupTimeoutError; either way a failed start
   * destroys the pool, so no thread is left behind.
   */
  async start(logger: Logger): Promise<void> {
    this.#logger = logger;
    this.#dispatcher.logger = logger;
    // A thread's error outside any task — one that failed while starting, say — is said here, not
    // only kept from ending the process (createWorkerPool's listener).
    this.#pool.on('error', (error: unknown) =>
      logger.warn({ error: describeError(error) }, 'a worker thread failed outside any batch'),
    );
    // Taken before the first batch; given back once the pool is destroyed (close, or here on failure).
    if (!this.options.workers.concurrentArrayBufferSweeping)
      this.#releaseSweeping = holdInlineArrayBufferSweeping();
    try {
      await this.#startWorker();
    } catch (error) {
      try {
        await this.#destroyPool();
      } finally {
        this.#releaseSweeping();
      }
      this.#intake?.close();
      throw error;
    }
    const intake = this.#intake;
    if (intake) {
      const { tornBytes, setAside, staleLockPid } = intake.recovery;
      if (setAside.length > 0)
        logger.error({ setAside }, 'disk queue: corrupt segments set aside, their events not replayed');
      logger.info(
        { replayed: intake.replayed, tornBytes, staleLockPid, path: this.options.queue.path },
        'disk queue opened',
      );
    }
    this.#dispatcher.start();
    const o = this.options;
    logger.info(
      {
        workers: o.workers.max,
        partitions: o.queue.partitions,
        capacityBytes: o.queue.capacityBytes,
        policy: o.queue.policy,
        ordering: o.ordering,
        sink: sinkName(o.sink),
        // A flag of the whole process that Sluice may have set: said, so a profile can be read right.
        arrayBufferSweeping: arrayBufferSweeping(),
        // Its first worker booted while the command loaded (src/engine/worker-pool.ts).
        poolStartedEarly: this.#poolStartedEarly,
        ...(Object.keys(o.routes).length > 1
          ? {
              routes: Object.fromEntries(
                Object.entries(o.routes).map(([name, route]) => [name, sinkName(route.sink)]),
              ),
            }
          : {}),
      },
      'pipeline started',
    );
  }

  /** The start-up task on one worker, within workers.startupTimeoutMs. */
  async #startWorker(): Promise<void> {
    const ping: BatchTask = { kind: 'ping', partition: 0, start: 0, end: 0, records: 0 };
    const { transform, sink, workers } = this.options;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // piscina ends the worker an aborted task runs on, so a setup() that never resolves
        // cannot keep its thread; the pool is destroyed by the caller all the same.
        abort.abort();
        reject(new StartupTimeoutError(workers.startupTimeoutMs, { transform, sink: sinkName(sink) }));
      }, workers.startupTimeoutMs);
    });
    // A worker throws its errors serialized (workers/batch-worker.ts): revived here, they are the
    // SinkError, TransformError… they were in the worker.
    const started = this.#pool.run(ping, { signal: abort.signal }).catch((error: unknown) => {
      throw reviveError(error);
    });
    try {
      await Promise.race([started, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What a producer thread needs: pass it in workerData and call `connectProducer` there. */
  get producerHandle(): QueueHandle {
    // With a disk queue, producer threads send their events to this thread's log (disk-producer.ts).
    if (this.#intake) return { ...this.#queue.handle, disk: this.#intake.producers.handle };
    return this.#queue.handle;
  }

  /** Resolves once the event is in the ring (false: a drop policy discarded it); waits while full. */
  push(event: SluiceEvent): Promise<boolean> {
    if (this.#closing) return Promise.reject(new ClosedError('pipeline'));
    return (this.#intake ?? this.#producer).push(event);
  }

  /** Pushes events as few publish groups; resolves with how many were accepted. */
  pushMany(events: readonly SluiceEvent[]): Promise<number> {
    if (this.#closing) return Promise.reject(new ClosedError('pipeline'));
    return (this.#intake ?? this.#producer).pushMany(events);
  }

  /** Pushes one serialised event (an NDJSON line); parsed in a worker, never on this thread. */
  pushRaw(bytes: Uint8Array | string, key?: string): Promise<boolean> {
    if (this.#closing) return Promise.reject(new ClosedError('pipeline'));
    return (this.#intake ?? this.#producer).pushRaw(bytes, key);
  }

  /** Pushes serialised events (NDJSON lines) as few publish groups, parsing none of them here. */
  pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): Promise<number> {
    if (this.#closing) return Promise.reject(new ClosedError('pipeline'));
    return (this.#intake ?? this.#producer).pushRawMany(lines, key);
  }

  /** Pushes serialised events, each with its own id and key; parsed in a worker, never on this thread. */
  pushRawRecords(records: readonly RawRecord[]): Promise<number> {
    if (this.#closing) return Promise.reject(new ClosedError('pipeline'));
    return (this.#intake ?? this.#producer).pushRawRecords(records);
  }

  /**
   * Pushes serialised events lying in one buffer — lines a source split out of a read — without an
   * object per line; each line's id and source can be made of a fixed part and a number (see
   * LineBatch). Parsed in a worker, never on this thread.
   */
  pushLines(batch: LineBatch): Promise<number> {
    if (this.#closing) return Promise.reject(new ClosedError('pipeline'));
    return (this.#intake ?? this.#producer).pushLines(batch);
  }

  /**
   * Resolves once every event pushed on this thread (push, pushMany, pushRaw…) whose push had
   * resolved before the call is written or dead-lettered — what a source waits for before it
   * acknowledges its messages. Pushes from producer threads are not waited for (see drained()).
   * Never resolves for events left in the ring by a close that timed out.
   */
  settled(): Promise<void> {
    if (this.#intake) return this.#intake.settled((ends) => this.#dispatcher.releasedPast(ends));
    return this.#dispatcher.releasedPast(this.#producer.publishedEnds());
  }

  /** Resolves once every event accepted before the call is written, dead-lettered or dropped. */
  async drained(): Promise<void> {
    // With a disk queue, what was accepted may still be on disk: first into the ring, then out.
    if (this.#intake) await this.#intake.fedUpToNow();
    return this.#dispatcher.releasedUpToNow();
  }

  /**
   * A prom-client registry of every sluice_* metric, read from shared memory on scrape. Merge it into
   * your own with `Registry.merge([yours, pipeline.metrics])`, or serve it (see createMetricsServer).
   */
  get metrics(): Registry {
    this.#metrics ??= createPipelineMetrics(
      {
        block: this.#block,
        queue: () => this.#queue.stats(),
        routes: Object.entries(this.options.routes).map(([name, route]) => ({
          name,
          sinkType: sinkType(route.sink),
          deadLetterSinkType: route.deadLetter === undefined ? undefined : sinkType(route.deadLetter),
        })),
        deadLetterSinkType: sinkType(this.options.deadLetter),
        workers: () => this.#pool.threads.length,
        workerRestarts: () => this.#counters.workerFailures,
        recent: () => this.#recentFigures(),
        sinkFailing: () => this.sinkFailing(),
        source: () => this.#sourceHealth?.latest,
        ...(this.#intake
          ? { disk: () => this.#intake!.stats(), fsyncSeconds: () => this.#intake!.fsyncSeconds() }
          : {}),
      },
      this.options.metrics,
    );
    return this.#metrics.registry;
  }

  /**
   * Liveness and readiness: alive while the pipeline exists; ready while it takes events and no
   * batch is waiting for its sink to come back (a worker could not open or write it).
   */
  health(): { alive: boolean; ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.#closing) reasons.push('shutting down');
    const deferred = this.#dispatcher.deferredBatches;
    if (deferred > 0) reasons.push(`${deferred} batches waiting for the sink`);
    const downAfter = this.options.metrics.sinkDownAfterMs;
    const failing = this.sinkFailing();
    const down = (what: string, state: Failing | undefined) => {
      if (state !== undefined && state.forMs >= downAfter)
        reasons.push(`${what} failing every write for ${Math.round(state.forMs / 1000)} s`);
    };
    const names = Object.keys(this.options.routes);
    if (names.length === 1) down('sink', failing.sink);
    else
      failing.routes.forEach((route, i) => {
        down(`route ${names[i]} sink`, route.sink);
        down(`route ${names[i]} dead-letter sink`, route.deadLetter);
      });
    down('dead-letter sink', failing['dead-letter sink']);
    return { alive: true, ready: reasons.length === 0, reasons };
  }

  /**
   * Since when each sink has failed its writes (the first failure since its last success), as
   * workers record it in shared memory at every attempt; undefined while its last write worked.
   */
  sinkFailing(): SinkFailing {
    const now = Date.now();
    const at = (slot: number): Failing | undefined => {
      const since = this.#block.read(slot);
      return since === 0 ? undefined : { since, forMs: Math.max(0, now - since) };
    };
    const routes = Object.values(this.options.routes).map((route, i) => ({
      sink: at(routeSlot(i, R_SINK_FAILING_SINCE_MS)),
      deadLetter:
        route.deadLetter === undefined ? undefined : at(routeSlot(i, R_DEAD_LETTER_FAILING_SINCE_MS)),
    }));
    // The sink failing longest stands for all (what /readyz and the dashboard's tile say).
    let sink: Failing | undefined;
    for (const route of routes) if (route.sink && (!sink || route.sink.since < sink.since)) sink = route.sink;
    return { sink, 'dead-letter sink': at(M_DEAD_LETTER_SINK_FAILING_SINCE_MS), routes };
  }

  /** A snapshot for the live dashboard and `sluice top`, read from shared memory. */
  liveStats(): LiveStats {
    const failing = this.sinkFailing();
    const intake = this.#intake;
    const disk = intake?.stats();
    return liveStats(
      this.#queue.stats(),
      this.#block,
      this.#pool.threads.length,
      this.#recentFigures(),
      { ...this.health(), sinkFailingMs: failing.sink?.forMs ?? 0 },
      this.#sourceHealth?.latest,
      Object.keys(this.options.routes).map((name, i) => ({
        name,
        failingMs: failing.routes[i]?.sink?.forMs ?? 0,
      })),
      intake && disk
        ? {
            bytes: disk.bytes,
            events: disk.records,
            backlogEvents: disk.backlogRecords,
            backlogBytes: disk.backlogBytes,
            maxDiskBytes: this.options.queue.maxDiskBytes,
            fsync: this.options.queue.fsync,
            fsyncs: disk.fsyncs,
            fsyncSeconds: intake.fsyncSeconds().sum,
            replayed: disk.replayed,
          }
        : undefined,
    );
  }

  /**
   * Watches where a broker source stands with its broker (Source.health, asked once a second): its
   * lag, what its group has not acknowledged and what this process holds, in the metrics
   * (`sluice_source_*`), in liveStats() and so on the dashboard and in `sluice top`. `sluice run`
   * calls it for its source; a program feeding the pipeline from its own source may too.
   */
  watchSource(source: Pick<Source, 'health'>, everyMs = 1000): void {
    if (!source.health || this.#closing) return;
    this.#sourceHealth?.stop();
    this.#sourceHealth = new SourceHealthWatch({ health: () => source.health!() }, everyMs).start();
  }

  /**
   * The snapshots of the last two minutes, one a second, oldest first: what a dashboard opened now
   * draws before its first poll. Sampling starts with the first call (the metrics server makes it).
   */
  liveHistory(): LiveStats[] {
    if (this.#closing) return this.#history?.snapshots() ?? [];
    this.#history ??= new LiveHistory(() => this.liveStats()).start();
    return this.#history.snapshots();
  }

  /** Figures over the last seconds, sampled from the time the pipeline is first observed. */
  #recentFigures() {
    // No new sampler once closing: a late reader gets figures since construction.
    this.#recent ??= new RecentWindow(this.#block, () => this.#pool.threads.length);
    if (!this.#closing) this.#recent.start();
    return this.#recent.read();
  }

  stats(): PipelineStats {
    return {
      ...this.#counters.snapshot(),
      writtenByRoute: Object.fromEntries(
        Object.keys(this.options.routes).map((name, i) => [name, this.#counters.writtenByRoute[i] ?? 0]),
      ),
      queue: this.#queue.stats(),
      partitions: this.#queue.partitionStats(),
      workers: this.#pool.threads.length,
      runningBatches: this.#dispatcher.running,
      ...(this.#intake ? { disk: this.#intake.stats() } : {}),
    };
  }

  /**
   * Stops intake (pushes from every thread fail with SLUICE_CLOSED), waits until every accepted
   * event is written or dead-lettered, closes the sinks and the worker pool. With `timeoutMs`,
   * rejects with ShutdownTimeoutError saying how many accepted events were not written or
   * dead-lettered, within `timeoutMs` + SINK_CLOSE_GRACE_MS + the time to end the threads.
   */
  close(options: CloseOptions = {}): Promise<PipelineSummary> {
    const timeoutMs = options?.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0))) {
      return Promise.reject(
        new InvalidOptionError(
          'close() timeoutMs',
          'a number of milliseconds from 0 (Infinity: no deadline)',
          timeoutMs,
        ),
      );
    }
    this.#closing ??= this.#close(timeoutMs === Number.POSITIVE_INFINITY ? undefined : timeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number | undefined): Promise<PipelineSummary> {
    // With a disk queue, the ring stays open until the feeder has moved the whole backlog in.
    const intake = this.#intake;
    if (!intake) this.#queue.close();
    const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    let cancelTimer = () => {};
    const timedOut =
      timeoutMs === undefined
        ? undefined
        : new Promise<'timeout'>((resolve) => {
            cancelTimer = longTimeout(() => resolve('timeout'), timeoutMs);
          });
    const drained = (async () => {
      if (intake) {
        await intake.stopIntake();
        this.#queue.close();
      }
      for (;;) {
        await this.#dispatcher.releasedUpToNow();
        if (this.#dispatcher.idle()) return 'drained' as const;
        // Past the deadline close() has already given up: a reservation still unpublished now
        // may belong to a producer thread that died mid-write, and would be polled for ever.
        if (deadline !== undefined && performance.now() >= deadline) return 'timeout' as const;
        // A producer thread reserved before the close and is still writing: it publishes shortly.
        // Unref'd: a live producer thread keeps the process up by itself, and a dead one must not.
        await new Promise((resolve) => setTimeout(resolve, 1).unref());
      }
    })();
    const outcome = timedOut ? await Promise.race([drained, timedOut]) : await drained;
    cancelTimer();
    // A feeder still waiting for room ends here (its push fails as closed).
    this.#queue.close();
    this.#dispatcher.stop();
    const pending = this.#dispatcher.pendingRecords() + (intake?.stats().backlogRecords ?? 0);
    await this.#closeWorkers(this.#sinkCloseMs(outcome, deadline));
    // What the ring released is acknowledged in the log; what it still held is replayed next time.
    this.#intake?.close();
    this.#metrics?.close();
    this.#recent?.stop();
    this.#sourceHealth?.stop();
    this.#history?.stop();
    if (outcome === 'timeout') {
      this.#logger.error({ pendingEvents: pending, timeoutMs }, 'pipeline close timed out');
      throw new ShutdownTimeoutError(pending, timeoutMs!);
    }
    // Drained, yet records left in the log: only when reading it back failed (logged then). They
    // are not lost — the next start replays them — but this run did not write them: say so.
    const leftOnDisk = intake?.stats().backlogRecords ?? 0;
    if (leftOnDisk > 0)
      this.#logger.error(
        { events: leftOnDisk, path: this.options.queue.path },
        'disk queue: accepted events left in the log, not written; a start on the same path replays them',
      );
    const summary = { ...this.stats(), uptimeSeconds: (performance.now() - this.#created) / 1000 };
    this.#logger.info(
      {
        written: summary.written,
        deadLettered: summary.deadLettered,
        batches: summary.batches,
        uptimeSeconds: summary.uptimeSeconds,
      },
      'pipeline closed',
    );
    return summary;
  }

  /** How long the workers may take to close their sinks: never far past the close's deadline. */
  #sinkCloseMs(outcome: 'drained' | 'timeout', deadline: number | undefined): number {
    if (outcome === 'timeout') return SINK_CLOSE_GRACE_MS;
    if (deadline === undefined) return SINK_CLOSE_MS;
    return Math.min(SINK_CLOSE_MS, Math.max(0, deadline - performance.now()) + SINK_CLOSE_GRACE_MS);
  }

  /**
   * Asks every worker to close its sinks and waits for their answers, then ends the pool. A worker
   * still starting up was not listening yet, so the request is repeated until every thread answered
   * (closing twice is harmless), for at most `limitMs`.
   */
  async #closeWorkers(limitMs: number): Promise<void> {
    if (this.#pool.threads.length > 0) {
      const channel = new BroadcastChannel(this.#closeChannel);
      const answered = new Set<number>();
      await new Promise<void>((resolve) => {
        const giveUp = setTimeout(finish, limitMs);
        const close: WorkerMessage = { code: 'CLOSE' };
        const again = setInterval(() => channel.postMessage(close), 50);
        function finish() {
          clearTimeout(giveUp);
          clearInterval(again);
          resolve();
        }
        channel.onmessage = (message: MessageEvent) => {
          const answer = asWorkerMessage(message.data);
          if (answer?.code === 'CLOSED') answered.add(answer.threadId);
          if (answered.size >= this.#pool.threads.length) finish();
        };
        channel.postMessage(close);
      });
      channel.close();
    }
    try {
      await this.#destroyPool();
    } finally {
      this.#releaseSweeping();
    }
  }
}

function sinkType(spec: ResolvedSinkSpec): string {
  return 'type' in spec ? spec.type : 'custom';
}

/** Validates the options, starts the workers, and returns a running pipeline. */
export async function createPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const { pipeline, started } = await openPipeline(options);
  await started;
  return pipeline;
}

/**
 * @internal createPipeline in two steps, for `sluice run`: the pipeline as soon as its queue exists
 * — pushes wait in the ring — and `started`, which settles as createPipeline would (rejected, the
 * workers gone, when the transform or the sinks cannot start). A source that can be read again
 * (a file) starts reading meanwhile, while the workers load and the sinks connect.
 */
export async function openPipeline(
  options: PipelineOptions = {},
  /** A pool started before the options were known: taken if its shape fits them, else ended. */
  prestarted?: PrestartedPool,
): Promise<{ pipeline: Pipeline; started: Promise<void> }> {
  const resolved = resolvePipelineOptions(options);
  // Before the pipeline starts threads: a log destination that cannot be opened leaves none behind.
  const logger = createLogger(resolved.log, { thread: 'main' });
  const pipeline = new Pipeline(resolved, prestarted);
  const started = pipeline.start(logger);
  // Reported through whoever awaits it; this only keeps an early failure from going unhandled.
  started.catch(() => {});
  return { pipeline, started };
}

/** In a producer thread: a blocking producer for a pipeline's queue (`Atomics.wait` when full; with a disk queue, until durable). */
export function connectProducer(handle: QueueHandle): ThreadProducer {
  if (handle.disk) return new DiskQueueProducer(handle.disk, handle.options);
  return new QueueProducer(EventQueue.attach(handle));
}

/**
 * What connectProducer returns: each call blocks this thread until its events are accepted — in
 * the ring, or with a disk queue, durable in its log.
 */
export type ThreadProducer = Pick<
  QueueProducer,
  'push' | 'pushMany' | 'pushRaw' | 'pushRawMany' | 'pushRawRecords' | 'pushLines'
>;
