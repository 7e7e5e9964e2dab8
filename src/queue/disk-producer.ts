import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { SluiceEvent } from '../codec/event.js';
import { ClosedError, DiskQueueFailedError, QueueFullError } from '../errors.js';
import { preparedEvents, preparedLines, preparedRawRecords, type RawRecord } from './producer.js';
import type { ResolvedQueueOptions } from './queue-options.js';
import {
  encodeFrames,
  type FramedImages,
  framesOf,
  type PreparedRecord,
  prepareEvent,
  prepareRaw,
} from './record-codec.js';
import { checkLineBatch, type LineBatch } from './record-run.js';

/**
 * Producer threads on a disk queue. The log belongs to the main thread (one writer keeps its
 * order), so a producer thread validates and serialises its events itself — into record images,
 * the ring's own format — sends them to the main thread over a BroadcastChannel, and blocks in
 * Atomics.wait until the main thread says they are durable (or refused): the same guarantee a
 * push on the main thread has. One request at a time per thread; a request takes a free slot of a
 * shared array for its answer and gives it back once read, so threads may come and go without end.
 * A thread ended (worker.terminate()) while it waited never gives its slot back: the main thread
 * takes back a slot whose answer has gone unread for RECLAIM_AFTER_MS.
 *
 * Slot layout (Int32 words per slot): [answered request number, result, waited ms, holder]. Result
 * ≥ 0: records accepted; RESULT_CLOSED / RESULT_FULL / RESULT_FAILED otherwise (RESULT_FULL carries
 * the wait in ms). Holder: 0 when free, else the request number of the push holding the slot, or
 * its negation while that push reads its answer.
 */
const SLOT_WORDS = 4;
const W_DONE = 0;
const W_RESULT = 1;
const W_WAITED_MS = 2;
const W_HOLDER = 3;
/** Control words before the slots: the last request number given out, the intake's state. */
const C_LAST_REQUEST = 0;
const C_STATE = 1;
const CONTROL_WORDS = 4;
const STATE_CLOSED = 1;
/** Requests in flight at once (one per producer thread): more wait for a free slot. */
export const MAX_DISK_REQUESTS = 256;

const RESULT_CLOSED = -1;
const RESULT_FULL = -2;
const RESULT_FAILED = -3;

/**
 * How long an answer may lie unread before its slot is taken back, ms. A live thread reads its
 * answer within microseconds of the wake-up; one that has not for this long has ended.
 */
export const RECLAIM_AFTER_MS = 5000;

/** What a producer thread needs to push into a disk queue: part of the pipeline's producerHandle. */
export interface DiskProducerHandle {
  /** The BroadcastChannel's name. */
  readonly channel: string;
  readonly shared: SharedArrayBuffer;
}

interface Request {
  slot: number;
  request: number;
  /** The records, framed (encodeFrames). */
  frames: ArrayBuffer;
}

/**
 * The main thread's side: takes producer threads' requests, hands their images to `accept` (the
 * disk queue's intake), and answers each once it settled.
 */
export class DiskProducerPort {
  readonly handle: DiskProducerHandle;
  readonly #channel: BroadcastChannel;
  readonly #words: Int32Array;
  /** Requests taken and not yet answered. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Per slot, the request last answered there (0: none to watch) and when, for #reclaim. */
  readonly #answered = new Int32Array(MAX_DISK_REQUESTS);
  readonly #answeredAt = new Float64Array(MAX_DISK_REQUESTS);
  readonly #reclaimAfterMs: number;
  readonly #sweep: NodeJS.Timeout;

  constructor(accept: (frames: FramedImages) => Promise<number>, reclaimAfterMs = RECLAIM_AFTER_MS) {
    this.#reclaimAfterMs = reclaimAfterMs;
    this.#sweep = setInterval(() => this.#reclaim(), Math.min(1000, reclaimAfterMs)).unref();
    const name = `sluice-disk-producers-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const shared = new SharedArrayBuffer((CONTROL_WORDS + MAX_DISK_REQUESTS * SLOT_WORDS) * 4);
    this.handle = { channel: name, shared };
    this.#words = new Int32Array(shared);
    this.#channel = new BroadcastChannel(name);
    this.#channel.unref();
    this.#channel.onmessage = (message) => {
      const { slot, request, frames } = (message as { data: Request }).data;
      // Framed and checksummed in the producer thread: only their lengths are walked here.
      const framed = framesOf(Buffer.from(frames));
      let settled: Promise<number>;
      try {
        settled = framed
          ? accept(framed)
          : Promise.reject(new Error('frames from a producer thread do not add up'));
      } catch (error) {
        settled = Promise.reject(error);
      }
      const answered = settled.then(
        (accepted) => this.#answer(slot, request, accepted, 0),
        (error: unknown) =>
          error instanceof QueueFullError
            ? this.#answer(slot, request, RESULT_FULL, error.waitedMs)
            : this.#answer(slot, request, error instanceof ClosedError ? RESULT_CLOSED : RESULT_FAILED, 0),
      );
      this.#inFlight.add(answered);
      void answered.finally(() => this.#inFlight.delete(answered));
    };
  }

  /**
   * Once every request taken is answered — an append that became durable as the log closed is
   * answered as accepted, not as closed — refuses every later request and wakes every thread still
   * waiting (they fail as closed: their requests were never taken).
   */
  async close(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    // The state is stored before the wake-ups: a producer that wakes, or checks before posting,
    // reads it closed (seq-cst store, then notify; the producer loads it after waking).
    Atomics.store(this.#words, C_STATE, STATE_CLOSED);
    for (let slot = 0; slot < MAX_DISK_REQUESTS; slot++)
      Atomics.notify(this.#words, CONTROL_WORDS + slot * SLOT_WORDS + W_DONE);
    this.#channel.close();
    clearInterval(this.#sweep);
  }

  /** Slots held by a push: waiting for its answer, or answered and not yet given back. */
  heldSlots(): number {
    let held = 0;
    for (let slot = 0; slot < MAX_DISK_REQUESTS; slot++)
      if (Atomics.load(this.#words, CONTROL_WORDS + slot * SLOT_WORDS + W_HOLDER) !== 0) held++;
    return held;
  }

  /**
   * Takes back each slot whose answer has lain unread for reclaimAfterMs: its thread ended while it
   * waited (worker.terminate() runs no finally), and would hold the slot for good — once all are
   * held so, every producer thread's push waits for ever.
   */
  #reclaim(): void {
    const now = performance.now();
    for (let slot = 0; slot < MAX_DISK_REQUESTS; slot++) {
      const request = this.#answered[slot]!;
      if (request === 0) continue;
      const holder = CONTROL_WORDS + slot * SLOT_WORDS + W_HOLDER;
      if (Atomics.load(this.#words, holder) !== request) {
        this.#answered[slot] = 0;
      } else if (now - this.#answeredAt[slot]! >= this.#reclaimAfterMs) {
        // compareExchange: it frees the slot only while it is still that push's and unread. A
        // push that begins to read first has turned the word negative, and this fails; one that
        // begins after finds its request gone and does not read (see DiskQueueProducer#send).
        Atomics.compareExchange(this.#words, holder, request, 0);
        this.#answered[slot] = 0;
      }
    }
  }

  #answer(slot: number, request: number, result: number, waitedMs: number): void {
    const base = CONTROL_WORDS + slot * SLOT_WORDS;
    // Result first, then the request number the producer waits on: a producer that sees its
    // number in W_DONE (seq-cst load) also sees the result stored before it.
    Atomics.store(this.#words, base + W_RESULT, result);
    Atomics.store(this.#words, base + W_WAITED_MS, waitedMs);
    Atomics.store(this.#words, base + W_DONE, request);
    Atomics.notify(this.#words, base + W_DONE);
    this.#answered[slot] = request;
    this.#answeredAt[slot] = performance.now();
  }
}

/**
 * A producer thread's producer for a disk queue (see connectProducer): the methods of
 * QueueProducer, each blocking until its events are durable — or throwing QueueFullError under
 * the `reject` policy, ClosedError once the pipeline is closing. `drop-newest` returns 0 for what
 * the full disk queue discarded.
 */
export class DiskQueueProducer {
  readonly #words: Int32Array;
  readonly #channel: BroadcastChannel;
  readonly #maxRecordBytes: number;

  constructor(handle: DiskProducerHandle, options: ResolvedQueueOptions) {
    this.#words = new Int32Array(handle.shared);
    this.#channel = new BroadcastChannel(handle.channel);
    this.#channel.unref();
    this.#maxRecordBytes = options.maxRecordBytes;
  }

  push(event: SluiceEvent): boolean {
    return this.#send([prepareEvent(event, this.#maxRecordBytes)]) === 1;
  }

  pushMany(events: readonly SluiceEvent[]): number {
    return this.#send(preparedEvents(events, this.#maxRecordBytes));
  }

  pushRaw(bytes: Uint8Array | string, key?: string): boolean {
    return this.#send([prepareRaw(bytes, key, this.#maxRecordBytes)]) === 1;
  }

  pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): number {
    return this.#send(preparedLines(lines, key, this.#maxRecordBytes));
  }

  pushRawRecords(records: readonly RawRecord[]): number {
    return this.#send(preparedRawRecords(records, this.#maxRecordBytes));
  }

  pushLines(batch: LineBatch): number {
    return this.#send(linesOf(batch, this.#maxRecordBytes));
  }

  /** Sends records to the main thread and blocks until they are durable or refused. */
  #send(records: PreparedRecord[]): number {
    if (records.length === 0) return 0;
    const words = this.#words;
    if (Atomics.load(words, C_STATE) === STATE_CLOSED) throw new ClosedError('queue');
    // Serialised, framed and checksummed here, off the main thread; copied once into the message.
    const frames = encodeFrames(records).bytes.buffer as ArrayBuffer;
    // A number no request had before (0 is W_DONE's and W_HOLDER's initial value, and negative
    // numbers mark a slot being read): the slot's last answer, to an earlier request, can never be
    // read as this one's, and the slot's holder is known by it.
    let request = (Atomics.add(words, C_LAST_REQUEST, 1) + 1) & 0x7fffffff;
    if (request === 0) request = (Atomics.add(words, C_LAST_REQUEST, 1) + 1) & 0x7fffffff;
    const slot = this.#takeSlot(request);
    const base = CONTROL_WORDS + slot * SLOT_WORDS;
    const holder = base + W_HOLDER;
    let result: number;
    let waitedMs: number;
    try {
      this.#channel.postMessage({ slot, request, frames } satisfies Request);
      const done = base + W_DONE;
      for (;;) {
        const answered = Atomics.load(words, done);
        if (answered === request) break;
        // Answered, unread for RECLAIM_AFTER_MS (this thread stalled that long) and taken back:
        // W_DONE may already hold a later request's number, so this one's would be waited for ever.
        if (Atomics.load(words, holder) !== request) throw new DiskQueueFailedError();
        // Closed and not answered: the main thread refuses or never reads this request.
        if (Atomics.load(words, C_STATE) === STATE_CLOSED) throw new ClosedError('queue');
        // Bounded waits: a wake-up lost to the close race is noticed within 100 ms.
        Atomics.wait(words, done, answered, 100);
      }
      // Marks the answer as being read before reading it: the main thread takes back only a slot
      // still holding `request`, so from here on it cannot give the slot to another push whose
      // answer would overwrite this one. Failing means it already took it back, after this thread
      // left its answer unread for RECLAIM_AFTER_MS; the answer may be overwritten, so it is lost.
      if (Atomics.compareExchange(words, holder, request, -request) !== request) {
        throw new DiskQueueFailedError();
      }
      // Stored before W_DONE by the main thread (see #answer): seen once W_DONE was.
      result = Atomics.load(words, base + W_RESULT);
      waitedMs = Atomics.load(words, base + W_WAITED_MS);
    } finally {
      // Given back after its answer was read (seq-cst after the loads): the next request in this
      // slot cannot overwrite an answer still being read. Only if still this push's: a slot the
      // main thread took back may have another holder already.
      if (Atomics.compareExchange(words, holder, -request, 0) !== -request)
        Atomics.compareExchange(words, holder, request, 0);
    }
    if (result >= 0) return result;
    if (result === RESULT_FULL) throw new QueueFullError(waitedMs);
    if (result === RESULT_CLOSED) throw new ClosedError('queue');
    throw new DiskQueueFailedError();
  }

  /** A free answer slot, taken for `request`; waits while every slot is in use. */
  #takeSlot(request: number): number {
    const words = this.#words;
    const first = threadId % MAX_DISK_REQUESTS;
    for (;;) {
      for (let k = 0; k < MAX_DISK_REQUESTS; k++) {
        const slot = (first + k) % MAX_DISK_REQUESTS;
        // compareExchange: of two threads racing for a free slot, one gets it.
        if (Atomics.compareExchange(words, CONTROL_WORDS + slot * SLOT_WORDS + W_HOLDER, 0, request) === 0)
          return slot;
      }
      if (Atomics.load(words, C_STATE) === STATE_CLOSED) throw new ClosedError('queue');
      Atomics.wait(words, C_STATE, 0, 1);
    }
  }
}

/** A LineBatch's lines as prepared raw records, each with the id and source the batch gives it. */
export function linesOf(batch: LineBatch, maxRecordBytes: number): PreparedRecord[] {
  const lines = checkLineBatch(batch);
  const { bytes, starts, ends, idPrefix, idNumbers, sourcePrefix, sourceNumbers, key } = lines;
  const records: PreparedRecord[] = [];
  for (let i = 0; i < starts.length; i++) {
    records.push(
      prepareRaw(
        bytes.subarray(starts[i], ends[i]),
        key,
        maxRecordBytes,
        idPrefix !== undefined ? `${idPrefix}${idNumbers![i]}` : undefined,
        sourcePrefix !== undefined ? `${sourcePrefix}${sourceNumbers![i]}` : undefined,
      ),
    );
  }
  return records;
}
