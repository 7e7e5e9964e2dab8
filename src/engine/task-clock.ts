/**
 * When each running batch task began on its worker, and on which thread, in shared memory. A task's
 * timeout counts its run, not its wait for a worker: a task dispatched while piscina replaces a
 * crashed worker may wait for the new thread to load the transform and open its sinks, and that
 * wait must not be taken for a hang — least of all while a poison event is being isolated, where
 * every failure of a range alone counts against it. The thread is where a task that carries no
 * abort signal is ended when it runs too long (Dispatcher).
 *
 * One slot per task that can run at once (workers.max × concurrentBatchesPerWorker). The buffer's
 * first half holds each slot's wall-clock start in microseconds, or NOT_STARTED; its second half
 * the threadId of the worker that started it.
 */
const NOT_STARTED = 0n;

export class TaskClock {
  readonly buffer: SharedArrayBuffer;
  readonly #starts: BigInt64Array;
  readonly #slots: number;
  readonly #free: number[];

  constructor(slots: number) {
    this.buffer = new SharedArrayBuffer(2 * slots * BigInt64Array.BYTES_PER_ELEMENT);
    this.#starts = new BigInt64Array(this.buffer);
    this.#slots = slots;
    this.#free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }

  /** A slot for a task about to be dispatched; undefined when every slot is taken. */
  acquire(): number | undefined {
    const slot = this.#free.pop();
    // Cleared before the task is posted: the worker can only mark it after receiving the task.
    if (slot !== undefined) Atomics.store(this.#starts, slot, NOT_STARTED);
    return slot;
  }

  /** Frees a slot; `last`: taken again only after every other free slot. */
  release(slot: number, last = false): void {
    if (last) this.#free.unshift(slot);
    else this.#free.push(slot);
  }

  /** Wall-clock ms the task in `slot` started on its worker, or undefined while it waits for one. */
  startedAt(slot: number): number | undefined {
    // Seq-cst load of the worker's seq-cst store: a slot seen unstarted is only seen started at
    // the next sweep, which delays a timeout by one sweep interval, never fires one early.
    const micros = Atomics.load(this.#starts, slot);
    return micros === NOT_STARTED ? undefined : Number(micros) / 1000;
  }

  /** The threadId of the worker running the task in `slot`, or undefined while it waits for one. */
  threadOf(slot: number): number | undefined {
    // Seq-cst loads, the start first: the worker stores its threadId before the start, both
    // seq-cst (markTaskStarted), so a start seen here has its thread's id visible too.
    if (Atomics.load(this.#starts, slot) === NOT_STARTED) return undefined;
    return Number(Atomics.load(this.#starts, this.#slots + slot));
  }
}

/**
 * Slots for every task that can run at once, and as many again for the few the dispatcher starts
 * beyond that (the halves of a split range, a dead letter); a task without a slot is timed from its
 * dispatch.
 */
export function taskSlots(workers: { max: number; concurrentBatchesPerWorker: number }): number {
  return 2 * workers.max * workers.concurrentBatchesPerWorker;
}

/**
 * In a worker, as a task begins: records when, and on which thread, for the dispatcher's timeout.
 * `starts` is a view of the whole TaskClock buffer.
 */
export function markTaskStarted(
  starts: BigInt64Array,
  slot: number,
  wallClockMs: number,
  threadId: number,
): void {
  // The thread first, then the start, both seq-cst: a dispatcher that sees the start sees the
  // thread (TaskClock#threadOf).
  Atomics.store(starts, starts.length / 2 + slot, BigInt(threadId));
  Atomics.store(starts, slot, BigInt(Math.round(wallClockMs * 1000)));
}
