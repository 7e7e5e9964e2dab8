import type { SluiceEvent } from '../codec/event.js';
import {
  type PreparedRecord,
  prepareEvent,
  prepareRaw,
  wallClockMs,
  writeRecord,
} from '../codec/record-codec.js';
import { InvalidEventError, quote } from '../errors.js';
import type { EventQueue } from './event-queue.js';
import { RELEASE_CURSOR, RESERVE_CURSOR } from './layout.js';
import { RESERVE_DROPPED, type ReservePolicy, reserveAsync, reserveSync } from './reserve.js';
import { RESERVE_FULL, type Ring } from './ring-buffer.js';

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

/**
 * What both kinds of producer share: validation, partition choice, and copying a run of prepared
 * records into a ring as publish groups. Only waiting differs between them.
 */
class ProducerCore {
  readonly queue: EventQueue;
  readonly policy: ReservePolicy;
  readonly maxRecordBytes: number;
  /**
   * Per ring, the cursor just past the last group this producer published there (see `marks`): once
   * a ring's release cursor passes it, everything this producer wrote there before is settled.
   */
  readonly ends = new Map<Ring, number>();
  #next = 0;

  constructor(queue: EventQueue) {
    this.queue = queue;
    this.policy = queue.options;
    this.maxRecordBytes = queue.options.maxRecordBytes;
  }

  ringFor(key: string | undefined): Ring {
    const rings = this.queue.rings;
    if (rings.length === 1) return rings[0]!;
    if (key !== undefined) return rings[this.queue.partitionOf(key)]!;
    this.#next = (this.#next + 1) % rings.length;
    return rings[this.#next]!;
  }

  /** Splits prepared records by ring, keeping each ring's share in push order. */
  byRing(records: PreparedRecord[]): Map<Ring, PreparedRecord[]> {
    const groups = new Map<Ring, PreparedRecord[]>();
    if (this.queue.rings.length === 1) {
      groups.set(this.queue.rings[0]!, records);
      return groups;
    }
    // Key-less records of one call stay together in one ring: they are one publish group there.
    const keyless = this.ringFor(undefined);
    for (const record of records) {
      const ring = record.key === undefined ? keyless : this.ringFor(record.key);
      const list = groups.get(ring);
      if (list) list.push(record);
      else groups.set(ring, [record]);
    }
    return groups;
  }

  /**
   * Writes the longest run of `records` starting at `from` that fits into the ring's free space
   * right now as one publish group. Returns the index after the run, or `from` when not even one
   * record fits (the caller then waits under its policy).
   */
  tryWriteRun(ring: Ring, records: PreparedRecord[], from: number): number {
    const room = Math.min(ring.maxGroupBytes, ring.capacity - ring.usedBytes());
    let to = from;
    let bytes = 0;
    while (to < records.length && bytes + records[to]!.size <= room) bytes += records[to++]!.size;
    if (to === from) return from;
    const cursor = ring.tryReserve(bytes);
    if (cursor === RESERVE_FULL) return from;
    this.writeGroup(ring, cursor, records, from, to, bytes);
    return to;
  }

  writeGroup(
    ring: Ring,
    cursor: number,
    records: PreparedRecord[],
    from: number,
    to: number,
    bytes: number,
  ): void {
    const enqueuedAt = wallClockMs();
    let at = ring.offsetOf(cursor);
    for (let i = from; i < to; i++) {
      const record = records[i]!;
      writeRecord(ring, at, record, enqueuedAt);
      at += record.size;
    }
    ring.publish(cursor, bytes, to - from);
    this.ends.set(ring, (cursor + bytes) >>> 0);
  }

  /** `ends` by partition index. */
  marks(): Map<number, number> {
    const marks = new Map<number, number>();
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
      if (ahead !== 0 && ahead <= (reserve - release) >>> 0) marks.set(index, end);
    });
    return marks;
  }

  prepareEvents(events: readonly SluiceEvent[]): PreparedRecord[] {
    requireArray('pushMany', 'events', events);
    return events.map((event) => prepareEvent(event, this.maxRecordBytes));
  }

  prepareRawLines(lines: readonly (Uint8Array | string)[], key: string | undefined): PreparedRecord[] {
    requireArray('pushRawMany', 'lines', lines);
    return lines.map((line) => prepareRaw(line, key, this.maxRecordBytes));
  }

  prepareRawRecords(records: readonly RawRecord[]): PreparedRecord[] {
    requireArray('pushRawRecords', 'records', records);
    return records.map((r, i) => {
      if (r === null || typeof r !== 'object') {
        throw new InvalidEventError(
          `records[${i}]`,
          `must be an object with data (a Uint8Array or string), got ${shown(r)}`,
          { argumentOf: 'pushRawRecords' },
        );
      }
      return prepareRaw(r.data, r.key, this.maxRecordBytes, r.id, r.source);
    });
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
    const record = prepareEvent(event, this.#core.maxRecordBytes);
    return this.#writeAll(this.#core.ringFor(record.key), [record]) === 1;
  }

  /** Pushes events, publishing them in as few groups as fit; every event is validated first. */
  pushMany(events: readonly SluiceEvent[]): number {
    const records = this.#core.prepareEvents(events);
    let accepted = 0;
    for (const [ring, list] of this.#core.byRing(records)) accepted += this.#writeAll(ring, list);
    return accepted;
  }

  /** Pushes one serialised event (e.g. an NDJSON line) without parsing it here. */
  pushRaw(bytes: Uint8Array | string, key?: string): boolean {
    const record = prepareRaw(bytes, key, this.#core.maxRecordBytes);
    return this.#writeAll(this.#core.ringFor(key), [record]) === 1;
  }

  /** Pushes serialised events (e.g. NDJSON lines) as few publish groups, parsing none of them. */
  pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): number {
    const records = this.#core.prepareRawLines(lines, key);
    return this.#writeAll(this.#core.ringFor(key), records);
  }

  /** Pushes serialised events, each with its own id and key, parsing none of them. */
  pushRawRecords(records: readonly RawRecord[]): number {
    let accepted = 0;
    for (const [ring, list] of this.#core.byRing(this.#core.prepareRawRecords(records)))
      accepted += this.#writeAll(ring, list);
    return accepted;
  }

  #writeAll(ring: Ring, records: PreparedRecord[]): number {
    const core = this.#core;
    let accepted = 0;
    let i = 0;
    while (i < records.length) {
      const next = core.tryWriteRun(ring, records, i);
      if (next > i) {
        accepted += next - i;
        i = next;
        continue;
      }
      const record = records[i]!;
      const cursor = reserveSync(ring, record.size, core.policy);
      if (cursor !== RESERVE_DROPPED) {
        core.writeGroup(ring, cursor, records, i, i + 1, record.size);
        accepted++;
      }
      i++;
    }
    return accepted;
  }
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

  constructor(queue: EventQueue) {
    this.#core = new ProducerCore(queue);
  }

  /** Pushes one event; resolves false if a drop policy discarded it. */
  async push(event: SluiceEvent): Promise<boolean> {
    // async: a validation error rejects the promise instead of throwing at the call.
    const record = prepareEvent(event, this.#core.maxRecordBytes);
    return (await this.#write(this.#core.ringFor(record.key), [record])) === 1;
  }

  /** Pushes events, publishing them in as few groups as fit; every event is validated first. */
  async pushMany(events: readonly SluiceEvent[]): Promise<number> {
    const records = this.#core.prepareEvents(events);
    let accepted = 0;
    for (const [ring, list] of this.#core.byRing(records)) accepted += await this.#write(ring, list);
    return accepted;
  }

  /** Pushes one serialised event (e.g. an NDJSON line) without parsing it on this thread. */
  async pushRaw(bytes: Uint8Array | string, key?: string): Promise<boolean> {
    const record = prepareRaw(bytes, key, this.#core.maxRecordBytes);
    return (await this.#write(this.#core.ringFor(key), [record])) === 1;
  }

  /** Pushes serialised events (e.g. NDJSON lines) as few publish groups, parsing none of them. */
  async pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): Promise<number> {
    const records = this.#core.prepareRawLines(lines, key);
    return this.#write(this.#core.ringFor(key), records);
  }

  /** Pushes serialised events, each with its own id and key, parsing none of them on this thread. */
  async pushRawRecords(records: readonly RawRecord[]): Promise<number> {
    let accepted = 0;
    for (const [ring, list] of this.#core.byRing(this.#core.prepareRawRecords(records)))
      accepted += await this.#write(ring, list);
    return accepted;
  }

  /**
   * Per partition, the ring cursor just past the last record this producer has published so far.
   * Read it right after a push resolved: when every listed ring has released past its mark, every
   * record this producer pushed before is written, dead-lettered or dropped.
   */
  marks(): Map<number, number> {
    return this.#core.marks();
  }

  /** Writes what fits at once; the rest waits its turn behind earlier waiting writes. */
  #write(ring: Ring, records: PreparedRecord[]): Promise<number> {
    let from = 0;
    if (this.#waiting === 0) {
      for (let next = from; from < records.length; from = next) {
        next = this.#core.tryWriteRun(ring, records, from);
        if (next === from) break;
      }
      if (from === records.length) return Promise.resolve(records.length);
    }
    const written = from;
    this.#waiting++;
    const run = (this.#tail ?? Promise.resolve())
      .then(() => this.#writeWaiting(ring, records, written))
      .finally(() => {
        this.#waiting--;
      });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #writeWaiting(ring: Ring, records: PreparedRecord[], from: number): Promise<number> {
    const core = this.#core;
    let accepted = from;
    let i = from;
    while (i < records.length) {
      const next = core.tryWriteRun(ring, records, i);
      if (next > i) {
        accepted += next - i;
        i = next;
        continue;
      }
      const record = records[i]!;
      const cursor = await reserveAsync(ring, record.size, core.policy);
      if (cursor !== RESERVE_DROPPED) {
        core.writeGroup(ring, cursor, records, i, i + 1, record.size);
        accepted++;
      }
      i++;
    }
    return accepted;
  }
}
