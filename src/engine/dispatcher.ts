import { type Logger, pino } from 'pino';
import type { Piscina } from 'piscina';
import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import { describeError } from '../delivery/dead-letter.js';
import { backoffDelay } from '../delivery/retry-policy.js';
import { endSpan, startDispatchSpan } from '../metrics/tracing.js';
import type { EventQueue } from '../queue/event-queue.js';
import { RESERVE_CURSOR, STAT_RECORDS_RELEASED, STAT_RECORDS_WRITTEN } from '../queue/layout.js';
import type { Ring } from '../queue/ring-buffer.js';
import { RingConsumer, type RingRange } from '../queue/ring-consumer.js';
import { cursorAfter } from '../queue/ring-reader.js';
import type { BatchResult, BatchTask } from './batch-task.js';
import type { PipelineCounters } from './pipeline-stats.js';

/** A stretch of one batch that goes to a worker as one task. */
interface WorkItem {
  start: number;
  end: number;
  records: number;
  kind: 'deliver' | 'dead-letter';
  /** Times a worker died or timed out on this range while it ran alone (see #suspects). */
  crashes: number;
  /** A worker died while running this range: it only runs alone from now on. */
  suspect: boolean;
  /** Times a worker asked for this range to be tried later (sink could not open, dead letters failed). */
  deferrals: number;
  error?: string;
}

/**
 * The one abort signal piscina needs per task, and no more: one listener, added and removed.
 * An AbortController is an EventTarget, and building one and adding and removing its listener
 * showed as ~3 % of the main thread's time per batch when batches are small — for a signal that
 * fires only when a task times out.
 */
export class TaskAbort {
  aborted = false;
  reason: unknown;
  #listener: (() => void) | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.#listener === listener) this.#listener = undefined;
  }

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}

interface RunningTask {
  abort: TaskAbort;
  /** performance.now() after which the task is aborted. */
  deadline: number;
  timedOut: boolean;
}

/** A claimed range: its ring space is released once it is done and every batch before it is. */
interface Batch {
  range: RingRange;
  done: boolean;
  /** Work left, run one after the other (a crash splits the front item in two). */
  items: WorkItem[];
}

interface Partition {
  index: number;
  ring: Ring;
  consumer: RingConsumer;
  /** Claimed batches in ring order, done or not. */
  inflight: Batch[];
  armed: boolean;
}

interface MarkWaiter {
  marks: ReadonlyMap<number, number>;
  resolve: () => void;
}

interface DrainWaiter {
  targets: number[];
  resolve: () => void;
}

/** A range that crashed its worker this many times while running alone is split. */
const CRASHES_BEFORE_SPLIT = 2;

export type DispatcherOptions = Pick<
  ResolvedPipelineOptions,
  'batch' | 'ordering' | 'retry' | 'workers' | 'queue'
>;

/**
 * The main thread's half of the engine. It cuts batches from what producers published — when a
 * worker has room, whatever is waiting up to the batch limits, so batches are small at low load
 * and large at high load — and hands piscina a descriptor of each, never the events. It releases
 * ring space only when a batch is written or dead-lettered, in ring order, which wakes blocked
 * producers. A batch whose worker dies is dispatched again; one that keeps killing workers is split
 * until the poison event is alone, and that event is dead-lettered as `worker-crash`.
 */
export class Dispatcher {
  readonly #queue: EventQueue;
  readonly #pool: Piscina;
  readonly #options: DispatcherOptions;
  readonly #counters: PipelineCounters;
  readonly #parts: Partition[];
  readonly #maxRunning: number;
  /** Set by the pipeline once its logger exists; one line per batch event, never per record. */
  logger: Logger = pino({ enabled: false });
  #running = 0;
  #deferredNow = 0;
  #next = 0;
  #scheduled = false;
  #stopped = false;
  #drainWaiters: DrainWaiter[] = [];
  #markWaiters: MarkWaiter[] = [];
  /**
   * Ranges whose worker died. A worker runs several batches at once, so a crash cannot say which
   * one was at fault; suspects therefore run alone — nothing else in flight — and only a crash while
   * alone counts against a range. An innocent batch that shared a worker with a poison event runs
   * once alone, succeeds, and is never split.
   */
  readonly #suspects: { part: Partition; batch: Batch; item: WorkItem }[] = [];
  #alone: WorkItem | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Tasks on workers, with their deadlines (see #watchTasks). */
  readonly #tasks = new Set<RunningTask>();
  #taskSweep: NodeJS.Timeout | undefined;

  constructor(queue: EventQueue, pool: Piscina, options: DispatcherOptions, counters: PipelineCounters) {
    this.#queue = queue;
    this.#pool = pool;
    this.#options = options;
    this.#counters = counters;
    this.#maxRunning = options.workers.max * options.workers.concurrentBatchesPerWorker;
    this.#parts = queue.rings.map((ring, index) => ({
      index,
      ring,
      consumer: new RingConsumer(ring),
      inflight: [],
      armed: false,
    }));
  }

  /** Batches waiting to be retried because their worker could not finish them (sinks unavailable). */
  get deferredBatches(): number {
    return this.#deferredNow;
  }

  /** Tasks currently running on workers. */
  get running(): number {
    return this.#running;
  }

  start(): void {
    this.#schedule();
  }

  /** Stops dispatching (after a shutdown deadline); batches in the ring stay unacknowledged. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    clearInterval(this.#taskSweep);
    this.#taskSweep = undefined;
  }

  /** Resolves once every record published before this call is written, dead-lettered or dropped. */
  drained(): Promise<void> {
    const targets = this.#parts.map((p) => Number(Atomics.load(p.ring.stats, STAT_RECORDS_WRITTEN)));
    if (this.#reached(targets)) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ targets, resolve }));
  }

  /**
   * Resolves once every ring listed in `marks` (partition index → cursor, see
   * AsyncQueueProducer.marks) has released past its cursor: every record published before the mark
   * in that ring is then written, dead-lettered or dropped. Exact whatever other producers do,
   * because space is released in ring order.
   */
  releasedPast(marks: ReadonlyMap<number, number>): Promise<void> {
    if (this.#passed(marks)) return Promise.resolve();
    return new Promise((resolve) => this.#markWaiters.push({ marks, resolve }));
  }

  #passed(marks: ReadonlyMap<number, number>): boolean {
    for (const [index, mark] of marks) {
      // Cursors wrap at 2^32; a ring is far smaller than 2^31 bytes, so the signed distance tells
      // which side of the mark the release cursor is on.
      if (((this.#parts[index]!.consumer.releaseCursor - mark) | 0) < 0) return false;
    }
    return true;
  }

  /** True when nothing is reserved, queued or in flight in any ring (used after the rings close). */
  idle(): boolean {
    return this.#parts.every(
      (p) =>
        p.inflight.length === 0 &&
        // A producer that reserved before the close may still be writing: wait for its publication.
        Atomics.load(p.ring.control, RESERVE_CURSOR) >>> 0 === p.consumer.readCursor,
    );
  }

  /** Records not yet released in every ring. */
  pendingRecords(): number {
    let pending = 0;
    for (const p of this.#parts) {
      pending += Number(
        Atomics.load(p.ring.stats, STAT_RECORDS_WRITTEN) - Atomics.load(p.ring.stats, STAT_RECORDS_RELEASED),
      );
    }
    return pending;
  }

  #reached(targets: number[]): boolean {
    return this.#parts.every(
      (p, i) => Number(Atomics.load(p.ring.stats, STAT_RECORDS_RELEASED)) >= targets[i]!,
    );
  }

  #schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => this.#pump());
  }

  #pump(): void {
    this.#scheduled = false;
    if (this.#stopped) return;
    const parts = this.#parts;
    const { maxRecords, maxBytes } = this.#options.batch;
    const keyOrder = this.#options.ordering === 'key';
    for (const part of parts) this.#answerDrops(part);
    if (this.#alone) return;
    if (this.#suspects.length > 0) {
      // Let what runs finish, then give the next suspect the pool to itself.
      if (this.#running === 0) {
        const next = this.#suspects.shift()!;
        this.#alone = next.item;
        this.#run(next.part, next.batch, next.item);
      }
      return;
    }
    let progress = true;
    while (progress && this.#running < this.#maxRunning) {
      progress = false;
      for (let n = 0; n < parts.length && this.#running < this.#maxRunning; n++) {
        const part = parts[this.#next]!;
        this.#next = (this.#next + 1) % parts.length;
        if (keyOrder && part.inflight.length > 0) continue;
        const range = part.consumer.claim(maxRecords, maxBytes);
        if (!range) continue;
        const item: WorkItem = { ...range, kind: 'deliver', crashes: 0, deferrals: 0, suspect: false };
        const batch: Batch = { range, done: false, items: [item] };
        part.inflight.push(batch);
        this.#run(part, batch, item);
        progress = true;
      }
    }
    // Sleep on every ring that could feed a free worker. Under drop-oldest, also while every worker
    // is busy: a producer's drop request must be answered without waiting for a batch to finish.
    const waitAnyway = this.#options.queue.policy === 'drop-oldest';
    if (this.#running < this.#maxRunning || waitAnyway) {
      for (const part of parts) {
        if (!part.armed && !part.ring.closed && !(keyOrder && part.inflight.length > 0 && !waitAnyway))
          this.#arm(part);
      }
    }
  }

  #arm(part: Partition): void {
    part.armed = true;
    void part.consumer.waitForWork().then(() => {
      part.armed = false;
      this.#schedule();
    });
  }

  #answerDrops(part: Partition): void {
    if (!part.consumer.dropRequested()) return;
    const range = part.consumer.dropOldest();
    if (!range) return;
    part.inflight.push({ range, done: true, items: [] });
    this.#release(part);
  }

  #run(part: Partition, batch: Batch, item: WorkItem): void {
    this.#running++;
    const task: BatchTask = {
      kind: item.kind,
      partition: part.index,
      start: item.start,
      end: item.end,
      records: item.records,
    };
    if (item.kind === 'dead-letter') {
      task.reason = 'worker-crash';
      task.error = item.error ?? 'worker crashed';
      task.attempts = item.crashes;
    }
    const { span, carrier } = startDispatchSpan({
      'sluice.partition': part.index,
      'sluice.records': item.records,
      'sluice.kind': item.kind,
    });
    if (carrier) task.trace = carrier;
    const running: RunningTask = {
      abort: new TaskAbort(),
      deadline: performance.now() + this.#options.workers.taskTimeoutMs,
      timedOut: false,
    };
    this.#tasks.add(running);
    this.#watchTasks();
    this.#pool.run(task, { signal: running.abort }).then(
      (result: BatchResult) => {
        this.#tasks.delete(running);
        endSpan(span, result.ok ? undefined : result.error);
        this.#settled(part, batch, item, result);
      },
      (error: unknown) => {
        this.#tasks.delete(running);
        // piscina reports an aborted task as a bare AbortError; say why it was aborted.
        const cause = running.timedOut
          ? new Error(
              `task timed out after workers.taskTimeoutMs (${this.#options.workers.taskTimeoutMs} ms)`,
            )
          : error;
        endSpan(span, describeError(cause));
        this.#crashed(part, batch, item, cause);
      },
    );
  }

  /**
   * Aborts tasks past workers.taskTimeoutMs (piscina then replaces their worker). One sweep timer
   * for all of them, not an AbortSignal.timeout per task: each of those is a timer plus a weak
   * reference the garbage collector must process, and at thousands of batches a second they made
   * this thread's young-generation collections several times longer — milliseconds added to the
   * tail latency of every event in flight.
   */
  #watchTasks(): void {
    if (this.#taskSweep !== undefined) return;
    const every = Math.max(10, Math.min(1000, this.#options.workers.taskTimeoutMs / 4));
    this.#taskSweep = setInterval(() => {
      if (this.#tasks.size === 0) {
        clearInterval(this.#taskSweep);
        this.#taskSweep = undefined;
        return;
      }
      const now = performance.now();
      for (const running of this.#tasks) {
        if (now < running.deadline) continue;
        this.#tasks.delete(running);
        running.timedOut = true;
        running.abort.abort();
      }
    }, every);
    // A batch in flight keeps the process alive through piscina, not through this timer.
    this.#taskSweep.unref();
  }

  #settled(part: Partition, batch: Batch, item: WorkItem, result: BatchResult): void {
    this.#running--;
    if (this.#alone === item) this.#alone = undefined;
    if (!result.ok) {
      // The worker could not finish the batch (sinks unavailable, dead letters failed): the batch
      // stays in the ring and is tried again after a backoff. Backpressure, never loss.
      this.#counters.deferred++;
      if (item.deferrals === 0) this.#deferredNow++;
      item.deferrals++;
      const delayMs = backoffDelay(item.deferrals, this.#options.retry);
      this.logger.warn(
        {
          partition: part.index,
          records: item.records,
          deferrals: item.deferrals,
          retryInMs: Math.round(delayMs),
          error: result.error,
        },
        'batch deferred',
      );
      this.#later(part, batch, item, delayMs);
      this.#schedule();
      return;
    }
    this.#counters.add(result);
    if (item.deferrals > 0) this.#deferredNow--;
    batch.items.shift();
    const next = batch.items[0];
    if (next?.suspect) this.#suspects.unshift({ part, batch, item: next });
    else if (next) this.#run(part, batch, next);
    else {
      batch.done = true;
      this.#release(part);
    }
    this.#schedule();
  }

  #crashed(part: Partition, batch: Batch, item: WorkItem, error: unknown): void {
    this.#running--;
    const wasAlone = this.#alone === item;
    if (wasAlone) this.#alone = undefined;
    if (this.#stopped) return;
    this.#counters.workerFailures++;
    item.error = describeError(error);
    this.logger.warn(
      {
        partition: part.index,
        records: item.records,
        alone: wasAlone,
        crashes: item.crashes + (wasAlone ? 1 : 0),
        error: item.error,
      },
      'worker failed on a batch',
    );
    if (item.kind === 'dead-letter') {
      // Even writing the dead letter failed: keep trying, after a pause; the record stays in the ring.
      item.crashes++;
      this.#later(part, batch, item, backoffDelay(item.crashes, this.#options.retry));
    } else if (!wasAlone || item.crashes + 1 < CRASHES_BEFORE_SPLIT) {
      if (wasAlone) item.crashes++;
      item.suspect = true;
      this.#counters.redispatched++;
      this.#suspects.push({ part, batch, item });
    } else if (item.records > 1) {
      this.#counters.splits++;
      this.logger.warn(
        { partition: part.index, records: item.records },
        'batch split to find a poison event',
      );
      const half = item.records >> 1;
      const mid = cursorAfter(part.ring, item.start, half);
      const halves: WorkItem[] = [
        {
          start: item.start,
          end: mid,
          records: half,
          kind: 'deliver',
          crashes: 0,
          deferrals: 0,
          suspect: true,
        },
        {
          start: mid,
          end: item.end,
          records: item.records - half,
          kind: 'deliver',
          crashes: 0,
          deferrals: 0,
          suspect: true,
        },
      ];
      batch.items.splice(0, 1, ...halves);
      this.#suspects.unshift({ part, batch, item: halves[0]! });
    } else {
      // Alone, it killed its worker again and again: this is the poison event.
      item.crashes++;
      this.logger.error(
        { partition: part.index, crashes: item.crashes, error: item.error },
        'poison event dead-lettered',
      );
      item.kind = 'dead-letter';
      item.suspect = false;
      this.#run(part, batch, item);
    }
    this.#schedule();
  }

  #later(part: Partition, batch: Batch, item: WorkItem, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#stopped) return;
      if (item.suspect) {
        this.#suspects.unshift({ part, batch, item });
        this.#schedule();
      } else this.#run(part, batch, item);
    }, delayMs);
    this.#timers.add(timer);
  }

  /** Releases the ring up to the end of the leading run of done batches. */
  #release(part: Partition): void {
    let records = 0;
    let upTo = -1;
    while (part.inflight.length > 0 && part.inflight[0]!.done) {
      const batch = part.inflight.shift()!;
      upTo = batch.range.end;
      records += batch.range.records;
    }
    if (upTo === -1) return;
    part.consumer.release(upTo, records);
    if (this.#markWaiters.length > 0) {
      this.#markWaiters = this.#markWaiters.filter((waiter) => {
        if (!this.#passed(waiter.marks)) return true;
        waiter.resolve();
        return false;
      });
    }
    if (this.#drainWaiters.length > 0) {
      this.#drainWaiters = this.#drainWaiters.filter((waiter) => {
        if (!this.#reached(waiter.targets)) return true;
        waiter.resolve();
        return false;
      });
    }
  }
}
