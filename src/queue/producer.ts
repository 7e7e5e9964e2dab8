import type { SluiceEvent } from '../codec/event.js';
import { InvalidEventError, quote } from '../errors.js';
import type { EventQueue } from './event-queue.js';
import { RELEASE_CURSOR, RESERVE_CURSOR } from './layout.js';
import {
  type FramedImages,
  type PreparedRecord,
  prepareEvent,
  prepareRaw,
  wallClockMs,
} from './record-codec.js';
import {
  checkLineBatch,
  ImageRun,
  type LineBatch,
  LineRun,
  PreparedRun,
  type RecordRun,
} from './record-run.js';
import { RefusedRecord } from './refused-record.js';
import {
  RESERVE_DROPPED,
  type ReservePolicy,
  roomOrPolicy,
  type WaitStep,
  waitStepAsync,
  waitStepSync,
} from './reserve.js';
import { RESERVE_FULL, type Ring } from './ring-buffer.js';
import type { WaitResult } from './wait.js';

/** One serialised event with what the producer knows about it: `pushRawRecords` takes these. */
export interface RawRecord {
  /** The event, e.g. one NDJSON line; parsed in a worker. */
  data: Uint8Array | string;
  /** The id to use when the line has no `id` of its own (e.g. a broker's message id); else a fresh one. */
  id?: string;
  /** Partitioning and ordering key. */
  key?: string;
  /** Where it came from (e.g. `events.ndjson:17`), unless the line has a `source` of its own. */
  source?: string;
}

/** A wrong argument as an error message shows it: quoted, and cut short. */
function shown(value: unknown): string {
  const text = quote(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Refuses an argument that is not an array, naming the method and the argument. */
function requireArray(method: string, argument: string, value: unknown): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) {
    throw new InvalidEventError(argument, `must be an array, got ${shown(value)}`, { argumentOf: method });
  }
}

// The checks and preparation behind each push method, shared by every producer (the disk queue's
// too): every argument is checked before anything is written. They walk the array by index rather
// than with `map`, which skips the holes of a sparse array and leaves them in its result: a hole
// must be refused like any other bad element, not found only once part of the call is in a ring.

/** pushMany's events, prepared. */
export function preparedEvents(events: readonly SluiceEvent[], maxRecordBytes: number): PreparedRecord[] {
  requireArray('pushMany', 'events', events);
  const prepared = new Array<PreparedRecord>(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (event === null || typeof event !== 'object') {
      throw new InvalidEventError(`events[${i}]`, `must be an event object, got ${shown(event)}`, {
        argumentOf: 'pushMany',
      });
    }
    prepared[i] = prepareEvent(event, maxRecordBytes);
  }
  return prepared;
}

/** pushRawMany's lines, prepared. */
export function preparedLines(
  lines: readonly (Uint8Array | string)[],
  key: string | undefined,
  maxRecordBytes: number,
): PreparedRecord[] {
  requireArray('pushRawMany', 'lines', lines);
  const prepared = new Array<PreparedRecord>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (typeof line !== 'string' && !(line instanceof Uint8Array)) {
      throw new InvalidEventError(`lines[${i}]`, `must be a Uint8Array or string, got ${shown(line)}`, {
        argumentOf: 'pushRawMany',
      });
    }
    prepared[i] = prepareRaw(line, key, maxRecordBytes);
  }
  return prepared;
}

/** pushRawRecords' records, prepared, each checked to be an object first. */
export function preparedRawRecords(records: readonly RawRecord[], maxRecordBytes: number): PreparedRecord[] {
  requireArray('pushRawRecords', 'records', records);
  const prepared = new Array<PreparedRecord>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r === null || typeof r !== 'object') {
      throw new InvalidEventError(
        `records[${i}]`,
        `must be an object with data (a Uint8Array or string), got ${shown(r)}`,
        { argumentOf: 'pushRawRecords' },
      );
    }
    prepared[i] =
      r instanceof RefusedRecord
        ? r.prepare(maxRecordBytes)
        : prepareRaw(r.data, r.key, maxRecordBytes, r.id, r.source);
  }
  return prepared;
}

/** A write into a ring: yields each wait a full ring needs, returns how many records were accepted. */
type WriteSteps = Generator<WaitStep, number, WaitResult>;

/** A push's records split by ring, each ring's share in push order, checked and sized, not yet written. */
type Runs = [Ring, RecordRun][];

/** Has every run, from run `r`'s record `i` on, copy what it still reads from the caller's memory. */
function retainFrom(runs: Runs, r: number, i: number): void {
  runs[r]![1].retain?.(i);
  for (let k = r + 1; k < runs.length; k++) runs[k]![1].retain?.(0);
}

/**
 * Everything a producer does, written once for both kinds: validation, partition choice, and
 * copying runs of records into a ring as publish groups. A write is a generator that yields the
 * waits a full ring needs (see reserve.ts); a producer thread performs them with Atomics.wait, the
 * main thread with Atomics.waitAsync. Only that differs between the two producers.
 */
class ProducerCore {
  readonly queue: EventQueue;
  readonly policy: ReservePolicy;
  readonly maxRecordBytes: number;
  /**
   * Per ring, the cursor just past the last group this producer published there (see `publishedEnds`): once
   * a ring's release cursor passes it, everything this producer wrote there before is settled.
   */
  readonly ends = new Map<Ring, number>();
  /**
   * Whether a write copies what it reads from the caller's memory before it waits for room: the
   * main thread's caller runs on while its push waits, and may reuse or transfer a Buffer it
   * passed. A producer thread is blocked for the wait, so its memory cannot change under it.
   */
  readonly #retainOnWait: boolean;
  #next = 0;

  constructor(queue: EventQueue, policy: ReservePolicy = queue.options, retainOnWait = false) {
    this.queue = queue;
    this.policy = policy;
    this.maxRecordBytes = queue.options.maxRecordBytes;
    this.#retainOnWait = retainOnWait;
  }

  ringFor(key: string | undefined): Ring {
    const rings = this.queue.rings;
    if (rings.length === 1) return rings[0]!;
    if (key !== undefined) return rings[this.queue.partitionOf(key)]!;
    this.#next = (this.#next + 1) % rings.length;
    return rings[this.#next]!;
  }

  /** Prepared records split by ring, each ring's share in push order, as runs to write. */
  byRing(records: PreparedRecord[]): Runs {
    if (this.queue.rings.length === 1) return [[this.queue.rings[0]!, new PreparedRun(records)]];
    const groups = new Map<Ring, PreparedRecord[]>();
    // Key-less records of one call stay together in one ring: they are one publish group there.
    const keyless = this.ringFor(undefined);
    for (const record of records) {
      const ring = record.key === undefined ? keyless : this.ringFor(record.key);
      const list = groups.get(ring);
      if (list) list.push(record);
      else groups.set(ring, [record]);
    }
    return [...groups].map(([ring, list]) => [ring, new PreparedRun(list)]);
  }

  /** Writes runs one after the other; accepted records, fewer than given only under a drop policy. */
  *writeRuns(runs: Runs): WriteSteps {
    let accepted = 0;
    let retained = !this.#retainOnWait;
    for (let r = 0; r < runs.length; r++) {
      const [ring, run] = runs[r]!;
      let i = 0;
      while (i < run.length) {
        const next = this.tryWriteRun(ring, run, i);
        if (next > i) {
          accepted += next - i;
          i = next;
          continue;
        }
        const size = run.size(i);
        let cursor = ring.tryReserve(size);
        if (cursor === RESERVE_FULL) {
          // Only a policy that waits lets the caller run before the write: one that drops the
          // record or refuses the push at once needs no copy.
          const waits =
            this.policy.policy !== 'drop-newest' &&
            !(this.policy.policy === 'reject' && this.policy.rejectTimeoutMs === 0);
          if (!retained && waits) {
            retainFrom(runs, r, i);
            retained = true;
          }
          cursor = yield* roomOrPolicy(ring, size, this.policy);
        }
        if (cursor !== RESERVE_DROPPED) {
          this.writeGroup(ring, cursor, run, i, i + 1, size);
          accepted++;
        }
        i++;
      }
    }
    return accepted;
  }

  /** What a write not started yet still reads of the caller's memory, copied (see #retainOnWait). */
  retain(runs: Runs): void {
    if (this.#retainOnWait) retainFrom(runs, 0, 0);
  }

  /**
   * Writes the longest run of records starting at `from` that fits into the ring's free space
   * right now as one publish group. Returns the index after the run, or `from` when not even one
   * record fits (the caller then waits under its policy).
   */
  tryWriteRun(ring: Ring, run: RecordRun, from: number): number {
    const room = Math.min(ring.maxGroupBytes, ring.capacity - ring.usedBytes());
    let to = from;
    let bytes = 0;
    while (to < run.length && bytes + run.size(to) <= room) bytes += run.size(to++);
    if (to === from) return from;
    const cursor = ring.tryReserve(bytes);
    if (cursor === RESERVE_FULL) return from;
    this.writeGroup(ring, cursor, run, from, to, bytes);
    return to;
  }

  writeGroup(ring: Ring, cursor: number, run: RecordRun, from: number, to: number, bytes: number): void {
    const enqueuedAt = wallClockMs();
    let at = ring.offsetOf(cursor);
    if (run.writeRange) run.writeRange(ring, at, from, to, enqueuedAt);
    else
      for (let i = from; i < to; i++) {
        run.write(ring, at, i, enqueuedAt);
        at += run.size(i);
      }
    ring.publish(cursor, bytes, to - from);
    this.ends.set(ring, (cursor + bytes) >>> 0);
  }

  /** `ends` by partition index: each ring's cursor just past this producer's last published group. */
  publishedEnds(): Map<number, number> {
    const ends = new Map<number, number>();
    this.queue.rings.forEach((ring, index) => {
      const end = this.ends.get(ring);
      if (end === undefined) return;
      // Only a mark still ahead of the release cursor and not past the reserve cursor is pending.
      // One released long ago — after other producers pushed 2^31 bytes or more through this ring
      // — would look ahead in the signed comparison the dispatcher makes, and be waited for in
      // vain. Release is loaded before reserve (both seq-cst): release only moves towards
      // reserve, so the window can only be stale on the released side — a mark released between
      // the two loads is kept, and the dispatcher finds it passed at once; none is dropped early.
      const release = Atomics.load(ring.control, RELEASE_CURSOR) >>> 0;
      const reserve = Atomics.load(ring.control, RESERVE_CURSOR) >>> 0;
      const ahead = (end - release) >>> 0;
      if (ahead !== 0 && ahead <= (reserve - release) >>> 0) ends.set(index, end);
    });
    return ends;
  }

  // The push methods of both producers, as runs for writeRuns; every argument is checked before
  // anything is written.

  push(event: SluiceEvent): Runs {
    const record = prepareEvent(event, this.maxRecordBytes);
    return [[this.ringFor(record.key), new PreparedRun([record])]];
  }

  pushMany(events: readonly SluiceEvent[]): Runs {
    return this.byRing(preparedEvents(events, this.maxRecordBytes));
  }

  pushRaw(bytes: Uint8Array | string, key: string | undefined): Runs {
    const record = prepareRaw(bytes, key, this.maxRecordBytes);
    return [[this.ringFor(key), new PreparedRun([record])]];
  }

  pushRawMany(lines: readonly (Uint8Array | string)[], key: string | undefined): Runs {
    return [[this.ringFor(key), new PreparedRun(preparedLines(lines, key, this.maxRecordBytes))]];
  }

  pushRawRecords(records: readonly RawRecord[]): Runs {
    return this.byRing(preparedRawRecords(records, this.maxRecordBytes));
  }

  /** Framed images `from`…`to`, checked when they were encoded; key-less (one partition, see DurableIntake). */
  pushImages(frames: FramedImages, from: number, to: number): Runs {
    return [[this.ringFor(undefined), new ImageRun(frames, from, to)]];
  }

  pushLines(batch: LineBatch): Runs {
    const lines = checkLineBatch(batch);
    return [[this.ringFor(lines.key), new LineRun(lines, this.maxRecordBytes)]];
  }
}

/**
 * A producer for worker threads: every call blocks the calling thread (`Atomics.wait`) while the
 * ring is full under the `block` policy. Results say how many records were accepted — fewer than
 * given only under a drop policy, and the drops are counted in the queue's statistics.
 */
export class QueueProducer {
  readonly #core: ProducerCore;

  constructor(queue: EventQueue) {
    this.#core = new ProducerCore(queue);
  }

  /** Pushes one event; false if a drop policy discarded it. */
  push(event: SluiceEvent): boolean {
    return blocking(this.#core.writeRuns(this.#core.push(event))) === 1;
  }

  /** Pushes events, publishing them in as few groups as fit; every event is validated first. */
  pushMany(events: readonly SluiceEvent[]): number {
    return blocking(this.#core.writeRuns(this.#core.pushMany(events)));
  }

  /** Pushes one serialised event (e.g. an NDJSON line) without parsing it here. */
  pushRaw(bytes: Uint8Array | string, key?: string): boolean {
    return blocking(this.#core.writeRuns(this.#core.pushRaw(bytes, key))) === 1;
  }

  /** Pushes serialised events (e.g. NDJSON lines) as few publish groups, parsing none of them. */
  pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): number {
    return blocking(this.#core.writeRuns(this.#core.pushRawMany(lines, key)));
  }

  /** Pushes serialised events, each with its own id and key, parsing none of them. */
  pushRawRecords(records: readonly RawRecord[]): number {
    return blocking(this.#core.writeRuns(this.#core.pushRawRecords(records)));
  }

  /** Pushes lines lying in one buffer (see LineBatch), without an object per line. */
  pushLines(batch: LineBatch): number {
    return blocking(this.#core.writeRuns(this.#core.pushLines(batch)));
  }
}

/** Runs a write to its end, blocking this thread for each wait. */
function blocking(steps: WriteSteps): number {
  let step = steps.next();
  while (!step.done) step = steps.next(waitStepSync(step.value));
  return step.value;
}

/**
 * A producer for the main thread: calls resolve once the records are in the ring, and await room
 * (`Atomics.waitAsync`) while it is full, never blocking the event loop. Calls are accepted in call
 * order even when nobody awaits them: once one has to wait for room, later calls queue behind it
 * instead of taking the room it is waiting for.
 */
export class AsyncQueueProducer {
  readonly #core: ProducerCore;
  /** The last write that had to wait; later writes chain behind it. */
  #tail: Promise<unknown> | undefined;
  #waiting = 0;

  /** `policy` in place of the queue's own: the disk queue's feeder always waits for room. */
  constructor(queue: EventQueue, policy?: ReservePolicy) {
    this.#core = new ProducerCore(queue, policy, true);
  }

  // async: a validation error rejects the promise instead of throwing at the call.

  /** Pushes one event; resolves false if a drop policy discarded it. */
  async push(event: SluiceEvent): Promise<boolean> {
    return (await this.#write(this.#core.push(event))) === 1;
  }

  /** Pushes events, publishing them in as few groups as fit; every event is validated first. */
  async pushMany(events: readonly SluiceEvent[]): Promise<number> {
    return this.#write(this.#core.pushMany(events));
  }

  /** Pushes one serialised event (e.g. an NDJSON line) without parsing it on this thread. */
  async pushRaw(bytes: Uint8Array | string, key?: string): Promise<boolean> {
    return (await this.#write(this.#core.pushRaw(bytes, key))) === 1;
  }

  /** Pushes serialised events (e.g. NDJSON lines) as few publish groups, parsing none of them. */
  async pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): Promise<number> {
    return this.#write(this.#core.pushRawMany(lines, key));
  }

  /** Pushes serialised events, each with its own id and key, parsing none of them on this thread. */
  async pushRawRecords(records: readonly RawRecord[]): Promise<number> {
    return this.#write(this.#core.pushRawRecords(records));
  }

  /** Pushes framed record images `from`…`to` (encodeFrames) as they are: the disk queue's feeder. */
  async pushImages(frames: FramedImages, from: number, to: number): Promise<number> {
    return this.#write(this.#core.pushImages(frames, from, to));
  }

  /** Pushes lines lying in one buffer (see LineBatch), without an object per line. */
  async pushLines(batch: LineBatch): Promise<number> {
    return this.#write(this.#core.pushLines(batch));
  }

  /**
   * Per partition, the ring cursor just past the last record this producer has published so far.
   * Read it right after a push resolved: when every listed ring has released past its mark, every
   * record this producer pushed before is written, dead-lettered or dropped.
   */
  publishedEnds(): Map<number, number> {
    return this.#core.publishedEnds();
  }

  /**
   * Runs a write of checked runs as far as the ring has room; the rest waits its turn behind
   * earlier waiting writes. A write that needs no wait costs no promise beyond the caller's own.
   */
  #write(runs: Runs): Promise<number> {
    if (this.#waiting === 0) {
      const steps = this.#core.writeRuns(runs);
      const step = steps.next();
      if (step.done) return Promise.resolve(step.value);
      return this.#queue(() => finish(steps, step.value));
    }
    // Prepared at the call, written in its turn: what it reads of the caller's memory is copied now.
    this.#core.retain(runs);
    return this.#queue(() => {
      const steps = this.#core.writeRuns(runs);
      const step = steps.next();
      return step.done ? step.value : finish(steps, step.value);
    });
  }

  #queue(run: () => Promise<number> | number): Promise<number> {
    this.#waiting++;
    const running = (this.#tail ?? Promise.resolve()).then(run).finally(() => {
      this.#waiting--;
    });
    this.#tail = running.catch(() => undefined);
    return running;
  }
}

/** Runs a write to its end, awaiting each wait. */
async function finish(steps: WriteSteps, first: WaitStep): Promise<number> {
  let step = steps.next(await waitStepAsync(first));
  while (!step.done) step = steps.next(await waitStepAsync(step.value));
  return step.value;
}
