import { wallClockMs } from '../queue/record-codec.js';
import type { TaskClock } from './task-clock.js';

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

/** A task handed to piscina, with what its deadline is reckoned from. */
export interface TimedTask {
  /** The signal piscina aborts the task by. */
  readonly abort: TaskAbort;
  /** Its slot in the TaskClock, where its worker marks when it started; none when all are taken. */
  readonly slot: number | undefined;
  /** Wall-clock ms when it was handed to piscina. */
  readonly dispatchedAt: number;
  /** Set when its deadline passed and it was aborted: piscina then rejects it with a bare AbortError. */
  timedOut: boolean;
}

/**
 * Aborts tasks that ran longer than workers.taskTimeoutMs on their worker (piscina then replaces
 * the worker); a task still waiting for a worker gets workers.startupTimeoutMs more, the time a
 * replacement thread may take to start. One sweep timer for all of them, not an
 * AbortSignal.timeout per task: each of those is a timer plus a weak reference the garbage
 * collector must process, and at thousands of batches a second they made this thread's
 * young-generation collections several times longer — milliseconds added to the tail latency of
 * every event in flight.
 */
export class TaskDeadlines {
  readonly #clock: TaskClock;
  readonly #taskTimeoutMs: number;
  readonly #startupTimeoutMs: number;
  /**
   * Whether a task still waiting for a worker can expire: when piscina holds its abort signal,
   * which takes it out of the queue. A task without one can only be ended through its thread, so it
   * is timed from its start alone; while it waits past the same deadline it is reported stalled.
   */
  readonly #queuedExpire: boolean;
  /**
   * Told that tasks without a signal waited for a worker past the deadline a queued task with one
   * would have been aborted at: how many. At most once per that wait, however many there are.
   */
  readonly #onStalled: ((tasks: number) => void) | undefined;
  /** Wall-clock ms before which stalled tasks are not reported again. */
  #quietUntil = 0;
  readonly #tasks = new Set<TimedTask>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    clock: TaskClock,
    limits: { taskTimeoutMs: number; startupTimeoutMs: number },
    queuedExpire = true,
    onStalled?: (tasks: number) => void,
  ) {
    this.#clock = clock;
    this.#taskTimeoutMs = limits.taskTimeoutMs;
    this.#startupTimeoutMs = limits.startupTimeoutMs;
    this.#queuedExpire = queuedExpire;
    this.#onStalled = onStalled;
  }

  /** Takes a TaskClock slot for a task about to be dispatched and starts watching its deadline. */
  start(): TimedTask {
    const task: TimedTask = {
      abort: new TaskAbort(),
      slot: this.#clock.acquire(),
      dispatchedAt: wallClockMs(),
      timedOut: false,
    };
    this.#tasks.add(task);
    this.#watch();
    return task;
  }

  /**
   * Whether the task's worker ever started it (marked its slot); a task without a slot cannot
   * tell, and counts as started. Read before finish(), which frees the slot.
   */
  started(task: TimedTask): boolean {
    // Seq-cst load of the worker's seq-cst mark, which it makes before running any of the task. A
    // thread that died had made its stores before it exited, and its failure reaches this thread
    // only after (its exit event), so a task that ran reads as started here. Only an abort can race
    // a worker that is just taking the task: its mark may land after this read, the task may have
    // begun, and it is dispatched again whole — a repeat the sinks' dedup absorbs, never a loss.
    return task.slot === undefined || this.#clock.startedAt(task.slot) !== undefined;
  }

  /**
   * The task answered or failed: its deadline no longer applies and its slot is free again. The
   * slot of a task that was never started goes to the back of the free slots: if it was posted to a
   * worker being ended, a mark that worker makes late must not land on the next task to take it.
   */
  finish(task: TimedTask, started = true): void {
    this.#tasks.delete(task);
    if (task.slot !== undefined) this.#clock.release(task.slot, !started);
  }

  /** Stops the sweep (the dispatcher stopped); tasks still running are no longer timed. */
  stop(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /** How long a task may wait for a worker: a replacement thread's start, then its own run. */
  #queuedWaitMs(): number {
    return this.#startupTimeoutMs + this.#taskTimeoutMs;
  }

  #watch(): void {
    if (this.#sweep !== undefined) return;
    const every = Math.max(10, Math.min(1000, this.#taskTimeoutMs / 4));
    this.#sweep = setInterval(() => {
      if (this.#tasks.size === 0) {
        this.stop();
        return;
      }
      const now = wallClockMs();
      const taskTimeoutMs = this.#taskTimeoutMs;
      let stalled = 0;
      for (const task of this.#tasks) {
        const started = task.slot === undefined ? task.dispatchedAt : this.#clock.startedAt(task.slot);
        if (started === undefined && !this.#queuedExpire) {
          if (now >= task.dispatchedAt + this.#queuedWaitMs()) stalled++;
          continue;
        }
        const deadline =
          started === undefined ? task.dispatchedAt + this.#queuedWaitMs() : started + taskTimeoutMs;
        if (now < deadline) continue;
        this.#tasks.delete(task);
        task.timedOut = true;
        task.abort.abort();
      }
      if (stalled > 0 && now >= this.#quietUntil) {
        this.#quietUntil = now + this.#queuedWaitMs();
        this.#onStalled?.(stalled);
      }
    }, every);
    // A batch in flight keeps the process alive through piscina, not through this timer.
    this.#sweep.unref();
  }
}
