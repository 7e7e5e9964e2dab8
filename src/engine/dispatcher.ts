import { type Logger, pino } from 'pino';
import type { Piscina } from 'piscina';
import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import { describeError } from '../delivery/dead-letter.js';
import { backoffDelay } from '../delivery/retry-policy.js';
import { reviveError } from '../errors.js';
import { M_RELEASE_WAIT_US, type MetricsBlock } from '../metrics/metrics-block.js';
import { endSpan, startDispatchSpan } from '../metrics/tracing.js';
import type { EventQueue } from '../queue/event-queue.js';
import { RESERVE_CURSOR } from '../queue/layout.js';
import { RingConsumer } from '../queue/ring-consumer.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import type { BatchResult, BatchTask } from './batch-task.js';
import type { PipelineCounters } from './pipeline-stats.js';
import { ReleaseWaiters } from './release-waiters.js';
import type { TaskClock } from './task-clock.js';
import { TaskDeadlines, type TimedTask } from './task-deadlines.js';
import { type Batch, type Partition, splitInHalves, type WorkItem, wholeRange } from './work-item.js';

/**
 * A task whose sink keeps failing retryably hands its range back after this share of
 * workers.taskTimeoutMs, to be held in the ring and dispatched again, rather than waiting inside
 * the task until the timeout mistakes the wait for a hung worker.
 */
const YIELD_SHARE_OF_TASK_TIMEOUT = 0.5;

export type DispatcherOptions = Pick<
  ResolvedPipelineOptions,
  'batch' | 'ordering' | 'retry' | 'workers' | 'queue' | 'transform' | 'routes' | 'deadLetter'
>;

/**
 * Whether a pipeline runs its user's code in the workers: a transform, or a sink — a route's, a
 * dead-letter one — built from a module. Such code can end its worker at any moment (an uncaught
 * error, `process.exit`), and a worker running two batches would take the other one with it, maybe
 * after that one's writes but before its answer: done again, it would write its records twice to a
 * sink that does not deduplicate (an NDJSON file, the dead letters). So with user code a worker
 * runs one batch at a time; with the built-in sinks alone it runs up to concurrentBatchesPerWorker,
 * the next batch's reading and encoding beside the last one's write.
 */
export function runsUserCode(
  options: Pick<ResolvedPipelineOptions, 'transform' | 'routes' | 'deadLetter'>,
): boolean {
  const isModule = (spec: ResolvedSinkSpec | undefined) => spec !== undefined && 'module' in spec;
  return (
    options.transform !== undefined ||
    isModule(options.deadLetter) ||
    Object.values(options.routes).some((route) => isModule(route.sink) || isModule(route.deadLetter))
  );
}

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
  readonly #partitions: Partition[];
  readonly #maxRunning: number;
  /** Set by the pipeline once its logger exists; one line per batch event, never per record. */
  logger: Logger = pino({ enabled: false });
  #running = 0;
  /** Work items handed back by their worker and not yet written: what deferredBatches reports. */
  #deferredItems = 0;
  /** The partition #pump claims from first, round-robin. */
  #next = 0;
  #scheduled = false;
  #stopped = false;
  /** Where the release wait is counted (M_RELEASE_WAIT_US); undefined with metrics off. */
  readonly #metrics: MetricsBlock | undefined;
  readonly #releaseWaiters: ReleaseWaiters;
  /**
   * Ranges whose worker died. A worker runs several batches at once, so a crash cannot say which
   * one was at fault; suspects therefore run alone — nothing else in flight — and only a crash while
   * alone counts against a range. An innocent batch that shared a worker with a poison event runs
   * once alone, succeeds, and is never split.
   */
  readonly #suspects: { part: Partition; batch: Batch; item: WorkItem }[] = [];
  /** The suspect running with the pool to itself: nothing else is dispatched until it ends. */
  #runningAlone: WorkItem | undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #deadlines: TaskDeadlines;
  readonly #clock: TaskClock;
  /**
   * Whether each task carries its timeout's abort signal (runsUserCode). Piscina runs such a task
   * alone on its worker and ends the worker when the signal fires. Without it, piscina runs up to
   * concurrentBatchesPerWorker on a worker, and a task past its deadline is ended by ending its
   * thread (#endThreadOf).
   */
  readonly #signalled: boolean;
  /** Tasks that failed before a worker started them since a worker last answered: their backoff. */
  #unstartedInARow = 0;
  /** Stalls reported (#startAnotherWorker) since a worker last answered. */
  #stallsInARow = 0;

  constructor(
    queue: EventQueue,
    pool: Piscina,
    options: DispatcherOptions,
    counters: PipelineCounters,
    clock: TaskClock,
    metrics?: MetricsBlock,
  ) {
    this.#metrics = metrics;
    this.#queue = queue;
    this.#clock = clock;
    this.#signalled = runsUserCode(options);
    this.#deadlines = new TaskDeadlines(clock, options.workers, this.#signalled, (tasks) =>
      this.#startAnotherWorker(tasks),
    );
    this.#pool = pool;
    this.#options = options;
    this.#counters = counters;
    this.#maxRunning = options.workers.max * options.workers.concurrentBatchesPerWorker;
    this.#partitions = queue.rings.map((ring, index) => ({
      index,
      ring,
      consumer: new RingConsumer(ring),
      inflight: [],
      armed: false,
    }));
    this.#releaseWaiters = new ReleaseWaiters((index) => this.#partitions[index]!.consumer.releaseCursor);
  }

  /** Batches waiting to be retried because their worker could not finish them (sinks unavailable). */
  get deferredBatches(): number {
    return this.#deferredItems;
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
    this.#deadlines.stop();
  }

  /**
   * Resolves once every record published before this call is written, dead-lettered or dropped.
   * Exact, whatever order producers publish in: it waits for each ring's release cursor to pass the
   * reserve cursor as it is now, and every record published before the call was reserved before it.
   * (Records reserved but not yet published are waited for too: pushes under way.)
   */
  releasedUpToNow(): Promise<void> {
    const marks = new Map<number, number>();
    for (const p of this.#partitions) {
      // Seq-cst load: a push that resolved before this call made its reservation visible before it
      // published, and its publication happened before the call, so this load sees the reservation.
      const reserve = Atomics.load(p.ring.control, RESERVE_CURSOR) >>> 0;
      if (reserve !== p.consumer.releaseCursor) marks.set(p.index, reserve);
    }
    return this.#releaseWaiters.wait(marks);
  }

  /**
   * Resolves once every ring listed in `marks` (partition index → cursor, see
   * AsyncQueueProducer.publishedEnds) has released past its cursor: every record published before the mark
   * in that ring is then written, dead-lettered or dropped.
   */
  releasedPast(marks: ReadonlyMap<number, number>): Promise<void> {
    return this.#releaseWaiters.wait(marks);
  }

  /** True when nothing is reserved, queued or in flight in any ring (used after the rings close). */
  idle(): boolean {
    return this.#partitions.every(
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
    for (const p of this.#partitions) {
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
    const parts = this.#partitions;
    const { maxRecords, maxBytes } = this.#options.batch;
    const keyOrder = this.#options.ordering === 'key';
    for (const part of parts) this.#answerDrops(part);
    if (this.#runningAlone) return;
    if (this.#suspects.length > 0) {
      // Let what runs finish, then give the next suspect the pool to itself.
      if (this.#running === 0) {
        const next = this.#suspects.shift()!;
        this.#runningAlone = next.item;
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
        const item = wholeRange(range);
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
    const { start, end, records } = item;
    const task: BatchTask =
      item.kind === 'dead-letter'
        ? {
            kind: 'dead-letter',
            partition: part.index,
            start,
            end,
            records,
            reason: 'worker-crash',
            error: item.error ?? 'worker crashed',
            attempts: item.crashes,
          }
        : { kind: 'deliver', partition: part.index, start, end, records };
    if (item.retry) task.retry = item.retry;
    task.yieldAfterMs = this.#options.workers.taskTimeoutMs * YIELD_SHARE_OF_TASK_TIMEOUT;
    const timed = this.#deadlines.start();
    if (timed.slot !== undefined) task.slot = timed.slot;
    const { span, carrier } = startDispatchSpan({
      'sluice.partition': part.index,
      'sluice.records': item.records,
      'sluice.kind': item.kind,
    });
    if (carrier) task.trace = carrier;
    if (!this.#signalled) timed.abort.addEventListener('abort', () => this.#endThreadOf(timed));
    this.#pool.run(task, this.#signalled ? { signal: timed.abort } : {}).then(
      (result: BatchResult) => {
        this.#deadlines.finish(timed);
        endSpan(span, result.ok ? undefined : result.error);
        this.#answered(part, batch, item, result);
      },
      (error: unknown) => {
        const started = this.#deadlines.started(timed);
        this.#deadlines.finish(timed, started);
        if (!started) {
          endSpan(span, 'never started on a worker');
          this.#neverRan(part, batch, item, timed.timedOut, error);
          return;
        }
        // piscina reports an aborted task as a bare AbortError; say why it was aborted.
        const cause = timed.timedOut
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
   * A task failed before its worker started it (its TaskClock slot unmarked: the mark is the first
   * thing a worker does with a task): a task with an abort signal that waited in piscina's queue
   * past workers.startupTimeoutMs + taskTimeoutMs and was taken out of it, or one posted to a thread
   * that died before reading it — one failing while it started, one ended by an error outside any
   * batch. No worker ran it, so it says nothing about its records: it is not split and not counted
   * against them (alone, a record would otherwise be dead-lettered as a poison event it never was).
   * It is dispatched again whole — after a backoff that grows while workers keep failing so, unless
   * it waited its deadline out already — which makes piscina start a thread if it has fewer than it may.
   */
  #neverRan(part: Partition, batch: Batch, item: WorkItem, waited: boolean, error: unknown): void {
    this.#running--;
    item.state = 'pending';
    if (this.#runningAlone === item) this.#runningAlone = undefined;
    if (this.#stopped) return;
    this.#counters.redispatched++;
    this.#unstartedInARow++;
    const delayMs = waited ? 0 : backoffDelay(this.#unstartedInARow, this.#options.retry);
    this.logger.warn(
      {
        partition: part.index,
        records: item.records,
        threads: this.#pool.threads.length,
        retryInMs: Math.round(delayMs),
        ...(waited
          ? {
              startupTimeoutMs: this.#options.workers.startupTimeoutMs,
              taskTimeoutMs: this.#options.workers.taskTimeoutMs,
            }
          : { error: describeError(reviveError(error)) }),
      },
      waited
        ? 'a batch waited for a worker past workers.startupTimeoutMs + taskTimeoutMs; dispatched again'
        : 'a batch failed before a worker started it; dispatched again',
    );
    // A suspect goes back to the front of the suspects, to run alone again.
    this.#dispatchAfter(part, batch, item, delayMs);
    this.#schedule();
  }

  /**
   * A task without an abort signal ran past its deadline: the worker thread it started on is
   * ended, as piscina ends the worker of an aborted task. Piscina then fails every task that thread
   * was running — this one as timed out, a batch beside it as crashed, to be split and run alone
   * like any range a worker died under — and starts another thread. (TaskDeadlines times a task
   * without a signal from its start only, so one with a clock slot has started when it expires
   * here; one without a slot is timed from its dispatch, and its thread cannot be named.)
   */
  #endThreadOf(timed: TimedTask): void {
    const thread = timed.slot === undefined ? undefined : this.#clock.threadOf(timed.slot);
    const worker = thread === undefined ? undefined : this.#pool.threads.find((w) => w.threadId === thread);
    if (worker === undefined) {
      // Its thread has exited already (its failure is on its way), or the task had no clock slot.
      this.logger.warn(
        { taskTimeoutMs: this.#options.workers.taskTimeoutMs },
        'a batch ran past workers.taskTimeoutMs; its worker thread could not be found to be ended',
      );
      return;
    }
    void worker.terminate();
  }

  /**
   * Batches without an abort signal waited for a worker past workers.startupTimeoutMs +
   * taskTimeoutMs: the pool has fewer threads than it runs batches on, and may not start one on its
   * own. Piscina replaces a worker that dies, but once a replacement has failed while starting it
   * replaces none, and starts a thread only when a task is submitted; a queued task with a signal is
   * taken out at this deadline and submitted again, which starts one, but one without (no user
   * code) would wait for good — the dispatcher, at its running limit, submits nothing else. So a
   * start-up task is submitted: piscina queues it behind the batches and starts a thread for it,
   * which takes the batches first. If that thread fails to start too, the next report (TaskDeadlines
   * makes one per such wait at most) tries again.
   */
  #startAnotherWorker(tasks: number): void {
    if (this.#stopped) return;
    this.#stallsInARow++;
    // Said louder once no worker has answered for three such waits: the pool cannot start threads.
    const level = this.#stallsInARow >= 3 ? 'error' : 'warn';
    this.logger[level](
      {
        batches: tasks,
        stallsInARow: this.#stallsInARow,
        threads: this.#pool.threads.length,
        startupTimeoutMs: this.#options.workers.startupTimeoutMs,
        taskTimeoutMs: this.#options.workers.taskTimeoutMs,
      },
      'batches waited for a worker past workers.startupTimeoutMs + taskTimeoutMs; starting another',
    );
    const ping: BatchTask = { kind: 'ping', partition: 0, start: 0, end: 0, records: 0 };
    // Its answer says nothing about the batches, which answer for themselves: it is ignored.
    this.#pool.run(ping).catch(() => {});
  }

  /** A worker answered for `item`: written, or handed back to be split or tried later. */
  #answered(part: Partition, batch: Batch, item: WorkItem, result: BatchResult): void {
    this.#running--;
    this.#unstartedInARow = 0;
    this.#stallsInARow = 0;
    item.state = 'pending';
    if (this.#runningAlone === item) this.#runningAlone = undefined;
    if (!result.ok) {
      if (result.isolate && item.records > 1) {
        // Some records of the range cannot be written anywhere as they are: split it, so the
        // rest goes through while the halves at fault are narrowed down.
        this.#counters.splits++;
        this.logger.warn(
          { partition: part.index, records: item.records, error: result.error },
          'batch split to isolate records the dead-letter sink refused',
        );
        const halves = splitInHalves(part.ring, item, false);
        if (item.deferrals > 0) this.#deferredItems--;
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
      if (item.deferrals === 0) this.#deferredItems++;
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
      this.#dispatchAfter(part, batch, item, delayMs);
      this.#schedule();
      return;
    }
    this.#counters.add(result);
    if (item.deferrals > 0) this.#deferredItems--;
    batch.items.splice(batch.items.indexOf(item), 1);
    this.#advance(part, batch);
    this.#schedule();
  }

  /** Starts a batch's next item once none of it runs or waits, or releases the batch once it is done. */
  #advance(part: Partition, batch: Batch): void {
    if (batch.items.length === 0) {
      batch.done = true;
      batch.doneAt = performance.now();
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
    const wasAlone = this.#runningAlone === item;
    if (wasAlone) this.#runningAlone = undefined;
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
      this.#deferredItems--;
      item.deferrals = 0;
    }
    if (item.kind === 'dead-letter') {
      // Even writing the dead letter failed: keep trying, after a pause; the record stays in the ring.
      this.#dispatchAfter(part, batch, item, backoffDelay(Math.max(1, item.crashes), this.#options.retry));
    } else if (item.records > 1) {
      this.#counters.splits++;
      this.#counters.redispatched++;
      this.logger.warn(
        { partition: part.index, records: item.records },
        'batch split to find a poison event',
      );
      const halves = splitInHalves(part.ring, item, true);
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

  /** Dispatches `item` again after `delayMs` (a suspect: queues it to run alone). */
  #dispatchAfter(part: Partition, batch: Batch, item: WorkItem, delayMs: number): void {
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
    let waitedUs = 0;
    const now = performance.now();
    while (part.inflight.length > 0 && part.inflight[0]!.done) {
      const batch = part.inflight.shift()!;
      upTo = batch.range.end;
      records += batch.range.records;
      // Each of its events waited this long, acknowledged, for earlier batches (in-order release).
      if (batch.doneAt !== undefined) waitedUs += (now - batch.doneAt) * 1000 * batch.range.records;
    }
    if (upTo === -1) return;
    if (waitedUs > 0) this.#metrics?.add(M_RELEASE_WAIT_US, waitedUs);
    part.consumer.release(upTo, records);
    this.#releaseWaiters.released();
  }
}
