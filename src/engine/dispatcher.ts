import { type Logger, pino } from 'pino';
import type { Piscina } from 'piscina';
import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import { describeError } from '../delivery/dead-letter.js';
import type { RetryState } from '../delivery/deliver-batch.js';
import { backoffDelay } from '../delivery/retry-policy.js';
import { reviveError } from '../errors.js';
import { endSpan, startDispatchSpan } from '../metrics/tracing.js';
import type { EventQueue } from '../queue/event-queue.js';
import { RESERVE_CURSOR } from '../queue/layout.js';
import { wallClockMs } from '../queue/record-codec.js';
import type { Ring } from '../queue/ring-buffer.js';
import { RingConsumer, type RingRange } from '../queue/ring-consumer.js';
import { cursorAfter } from '../queue/ring-reader.js';
import type { BatchResult, BatchTask } from './batch-task.js';
import type { PipelineCounters } from './pipeline-stats.js';
import type { TaskClock } from './task-clock.js';

/** A stretch of one batch that goes to a worker as one task. */
interface WorkItem {
  start: number;
  end: number;
  records: number;
  kind: 'deliver' | 'dead-letter';
  /** Failed tasks (a worker died, or the task timed out) that held this range, or a range it was split from. */
  crashes: number;
  /** A worker died while running this range: it only runs alone from now on. */
  suspect: boolean;
  /** `pending`: not started; `running`: on a worker; `waiting`: a timer will dispatch it again. */
  state: 'pending' | 'running' | 'waiting';
  /** Times a worker asked for this range to be tried later (sink could not open, dead letters failed). */
  deferrals: number;
  /** Where the sink's retries stood when a worker last handed this range back. */
  retry?: RetryState;
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
  /** Its slot in the TaskClock, where its worker marks when it started. */
  slot: number | undefined;
  /** Wall-clock ms when it was handed to piscina. */
  dispatchedAt: number;
  timedOut: boolean;
}

/** A claimed range: its ring space is released once it is done and every batch before it is. */
interface Batch {
  range: RingRange;
  done: boolean;
  /**
   * Work left, in ring order. Items run one after the other — a crash splits an item in two
   * halves that run alone — except the halves of a range split around records the dead-letter sink
   * refused, which run side by side when ordering is 'none'.
   */
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

/**
 * A task whose sink keeps failing retryably hands its range back after this share of
 * workers.taskTimeoutMs, to be held in the ring and dispatched again, rather than waiting inside
 * the task until the timeout mistakes the wait for a hung worker.
 */
const YIELD_SHARE_OF_TASK_TIMEOUT = 0.5;

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

  readonly #clock: TaskClock;

  constructor(
    queue: EventQueue,
    pool: Piscina,
    options: DispatcherOptions,
    counters: PipelineCounters,
    clock: TaskClock,
  ) {
    this.#queue = queue;
    this.#clock = clock;
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

  /**
   * Resolves once every record published before this call is written, dead-lettered or dropped.
   * Exact, whatever order producers publish in: it waits for each ring's release cursor to pass the
   * reserve cursor as it is now, and every record published before the call was reserved before it.
   * (Records reserved but not yet published are waited for too: pushes under way.)
   */
  drained(): Promise<void> {
    const marks = new Map<number, number>();
    for (const p of this.#parts) {
      // Seq-cst load: a push that resolved before this call made its reservation visible before it
      // published, and its publication happened before the call, so this load sees the reservation.
      const reserve = Atomics.load(p.ring.control, RESERVE_CURSOR) >>> 0;
      if (reserve !== p.consumer.releaseCursor) marks.set(p.index, reserve);
    }
    return this.releasedPast(marks);
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

  /**
   * Records accepted and not yet written, dead-lettered or dropped: those published and not
   * claimed, and those of claimed batches whose work is not done. Records already written but
   * waiting for an earlier batch before their space is released do not count.
   */
  pendingRecords(): number {
    let pending = 0;
    for (const p of this.#parts) {
      pending += p.consumer.unclaimedRecords();
      for (const batch of p.inflight) {
        if (batch.done) continue;
        for (const item of batch.items) pending += item.records;
      }
    }
    return pending;
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
        const item: WorkItem = {
          ...range,
          kind: 'deliver',
          crashes: 0,
          deferrals: 0,
          suspect: false,
          state: 'pending',
        };
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
    item.state = 'running';
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
    if (item.retry) task.retry = item.retry;
    task.yieldAfterMs = this.#options.workers.taskTimeoutMs * YIELD_SHARE_OF_TASK_TIMEOUT;
    const slot = this.#clock.acquire();
    if (slot !== undefined) task.slot = slot;
    const { span, carrier } = startDispatchSpan({
      'sluice.partition': part.index,
      'sluice.records': item.records,
      'sluice.kind': item.kind,
    });
    if (carrier) task.trace = carrier;
    const running: RunningTask = {
      abort: new TaskAbort(),
      slot,
      dispatchedAt: wallClockMs(),
      timedOut: false,
    };
    this.#tasks.add(running);
    this.#watchTasks();
    this.#pool.run(task, { signal: running.abort }).then(
      (result: BatchResult) => {
        this.#tasks.delete(running);
        if (slot !== undefined) this.#clock.release(slot);
        endSpan(span, result.ok ? undefined : result.error);
        this.#settled(part, batch, item, result);
      },
      (error: unknown) => {
        this.#tasks.delete(running);
        if (slot !== undefined) this.#clock.release(slot);
        // piscina reports an aborted task as a bare AbortError; say why it was aborted.
        const cause = running.timedOut
          ? new Error(
              `task timed out after workers.taskTimeoutMs (${this.#options.workers.taskTimeoutMs} ms)`,
            )
          : reviveError(error);
        endSpan(span, describeError(cause));
        this.#crashed(part, batch, item, cause);
      },
    );
  }

  /**
   * Aborts tasks that ran longer than workers.taskTimeoutMs on their worker (piscina then replaces
   * the worker); a task still waiting for a worker gets workers.startupTimeoutMs more, the time a
   * replacement thread may take to start. One sweep timer
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
      const now = wallClockMs();
      const { taskTimeoutMs, startupTimeoutMs } = this.#options.workers;
      for (const running of this.#tasks) {
        const started =
          running.slot === undefined ? running.dispatchedAt : this.#clock.startedAt(running.slot);
        const deadline =
          started === undefined
            ? running.dispatchedAt + startupTimeoutMs + taskTimeoutMs
            : started + taskTimeoutMs;
        if (now < deadline) continue;
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
    item.state = 'pending';
    if (this.#alone === item) this.#alone = undefined;
    if (!result.ok) {
      if (result.isolate && item.records > 1) {
        // Some records of the range cannot be written anywhere as they are: split it, so the
        // rest goes through while the halves at fault are narrowed down.
        this.#counters.splits++;
        this.logger.warn(
          { partition: part.index, records: item.records, error: result.error },
          'batch split to isolate records the dead-letter sink refused',
        );
        const halves = this.#halves(part, item, false);
        if (item.deferrals > 0) this.#deferredNow--;
        batch.items.splice(batch.items.indexOf(item), 1, ...halves);
        this.#run(part, batch, halves[0]!);
        // Side by side unless key order forbids a later record to land first.
        if (this.#options.ordering === 'none') this.#run(part, batch, halves[1]!);
        this.#schedule();
        return;
      }
      // The worker could not finish the batch (sinks unavailable, still failing, dead letters
      // failed): it stays in the ring and is tried again after a backoff. Backpressure, never loss.
      this.#counters.deferred++;
      if (item.deferrals === 0) this.#deferredNow++;
      item.deferrals++;
      if (result.retry) item.retry = result.retry;
      const delayMs = result.retryInMs ?? backoffDelay(item.deferrals, this.#options.retry);
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
    batch.items.splice(batch.items.indexOf(item), 1);
    this.#advance(part, batch);
    this.#schedule();
  }

  /** Starts a batch's next item once none of it runs or waits, or releases the batch once it is done. */
  #advance(part: Partition, batch: Batch): void {
    if (batch.items.length === 0) {
      batch.done = true;
      this.#release(part);
      return;
    }
    if (batch.items.some((i) => i.state !== 'pending')) return;
    const next = batch.items[0]!;
    if (next.suspect) this.#suspects.unshift({ part, batch, item: next });
    else this.#run(part, batch, next);
  }

  /**
   * A task failed without an answer: its worker died or the task timed out. A worker runs several
   * batches at once, so the failure cannot say which one was at fault; a range that failed while
   * others ran beside it is therefore split and its halves run alone — nothing else in flight — and
   * a range that fails alone is split again at once, until the poison event is alone: a poison
   * event among n costs 1 + ⌈log2 n⌉ failed tasks (with a hanging event, as many task timeouts).
   * Alone, it is dead-lettered as `worker-crash`. An innocent range that shared the worker runs as
   * two halves alone, succeeds, and is split no further.
   */
  #crashed(part: Partition, batch: Batch, item: WorkItem, error: unknown): void {
    this.#running--;
    item.state = 'pending';
    const wasAlone = this.#alone === item;
    if (wasAlone) this.#alone = undefined;
    if (this.#stopped) return;
    this.#counters.workerFailures++;
    item.error = describeError(error);
    item.crashes++;
    this.logger.warn(
      {
        partition: part.index,
        records: item.records,
        alone: wasAlone,
        crashes: item.crashes,
        error: item.error,
      },
      'worker failed on a batch',
    );
    if (item.deferrals > 0) {
      this.#deferredNow--;
      item.deferrals = 0;
    }
    if (item.kind === 'dead-letter') {
      // Even writing the dead letter failed: keep trying, after a pause; the record stays in the ring.
      this.#later(part, batch, item, backoffDelay(Math.max(1, item.crashes), this.#options.retry));
    } else if (item.records > 1) {
      this.#counters.splits++;
      this.#counters.redispatched++;
      this.logger.warn(
        { partition: part.index, records: item.records },
        'batch split to find a poison event',
      );
      const halves = this.#halves(part, item, true);
      batch.items.splice(batch.items.indexOf(item), 1, ...halves);
      if (!batch.items.some((i) => i.state !== 'pending'))
        this.#suspects.unshift({ part, batch, item: halves[0]! });
    } else if (!wasAlone) {
      // One record that failed beside others: run it alone before judging it.
      item.suspect = true;
      this.#counters.redispatched++;
      this.#suspects.push({ part, batch, item });
    } else {
      // Alone, it killed its worker or hung: this is the poison event.
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

  /** The two halves of a range, by record count, to run one after the other. */
  #halves(part: Partition, item: WorkItem, suspect: boolean): [WorkItem, WorkItem] {
    const half = item.records >> 1;
    const mid = cursorAfter(part.ring, item.start, half);
    const make = (start: number, end: number, records: number): WorkItem => ({
      start,
      end,
      records,
      kind: 'deliver',
      crashes: item.crashes,
      deferrals: 0,
      suspect,
      state: 'pending',
      ...(item.retry ? { retry: item.retry } : {}),
    });
    return [make(item.start, mid, half), make(mid, item.end, item.records - half)];
  }

  #later(part: Partition, batch: Batch, item: WorkItem, delayMs: number): void {
    if (this.#stopped) return;
    item.state = 'waiting';
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#stopped) return;
      item.state = 'pending';
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
  }
}
