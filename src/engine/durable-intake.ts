import type { SluiceEvent } from '../codec/event.js';
import { uuidv7 } from '../codec/uuid-v7.js';
import { DiskLog, type DiskLogStats } from '../queue/disk-log.js';
import type { EventQueue } from '../queue/event-queue.js';
import type { AsyncQueueProducer, RawRecord } from '../queue/producer.js';
import type { ResolvedQueueOptions } from '../queue/queue-options.js';
import type { LineBatch } from '../queue/record-run.js';

/** A log record's first byte: an event object, or a raw record (a header line, then its bytes). */
const EVENT = 0x65; // e
const RAW = 0x72; // r
const encoder = new TextEncoder();

/**
 * The pipeline's intake with `queue.durability: 'disk'`: every push goes into the ring and into
 * the disk log (src/queue/disk-log.ts), and resolves once the log holds it durably. Each event gets
 * its id before either (a fresh UUIDv7 when it has none), so that what is replayed after a crash is
 * written with the same id and a deduplicating sink stores it once.
 *
 * The log's order is the ring's: records enter the ring in call order (the producer's FIFO) and
 * are appended to the log as each push is accepted, in the same order; one ring, nothing dropped
 * (the options insist). So the k-th record this process put in the ring is the log's record
 * `base + k`, where `base` is what was acknowledged when the log was opened — replayed records
 * first. The ring's release count is therefore the log's acknowledgement, read every few ms; a
 * record released before its append (a fast sink) is acknowledged once appended.
 */
export class DurableIntake {
  readonly #log: DiskLog;
  readonly #producer: AsyncQueueProducer;
  readonly #queue: EventQueue;
  /** The log's acknowledged sequence number when it was opened. */
  readonly #base: number;
  /** Records in the log from `base` on: replayed ones, then those appended since. */
  #logged = 0;
  /** The ring's records released before this process's first push (none: a new ring). */
  readonly #releasedAtStart: number;
  #timer: NodeJS.Timeout | undefined;
  readonly replayed: number;
  /** Resolves once every replayed record is in the ring. */
  readonly replay: Promise<void>;

  constructor(options: ResolvedQueueOptions, producer: AsyncQueueProducer, queue: EventQueue) {
    this.#log = DiskLog.open(options.path!, {
      fsync: options.fsync,
      fsyncIntervalMs: options.fsyncIntervalMs,
    });
    this.#producer = producer;
    this.#queue = queue;
    this.#base = this.#log.stats().ackedSeq;
    this.#releasedAtStart = queue.stats().recordsReleased;
    // Replayed first, before any new push can take a place in the ring ahead of them.
    const records = [...this.#log.replay()];
    this.replayed = records.length;
    this.#logged = records.length;
    this.#ringOrdinal = records.length;
    // Every replayed record is handed to the producer now, before any new push can be: the
    // producer keeps call order, so they take the ring's first places, in the log's order.
    this.replay = Promise.all(records.map((r) => this.#replayOne(r.bytes))).then(() => undefined);
    this.#timer = setInterval(() => this.#ack(), 10);
    this.#timer.unref();
  }

  get recovery() {
    return this.#log.recovery;
  }

  stats(): DiskLogStats {
    return this.#log.stats();
  }

  #replayOne(bytes: Buffer): Promise<unknown> {
    if (bytes[0] === EVENT)
      return this.#producer.push(JSON.parse(bytes.subarray(1).toString('utf8')) as SluiceEvent);
    const end = bytes.indexOf(0x0a, 1);
    const header = JSON.parse(bytes.subarray(1, end).toString('utf8')) as Omit<RawRecord, 'data'>;
    return this.#producer.pushRawRecords([{ ...header, data: bytes.subarray(end + 1) }]);
  }

  async push(event: SluiceEvent): Promise<boolean> {
    return (await this.pushMany([event])) === 1;
  }

  async pushMany(events: readonly SluiceEvent[]): Promise<number> {
    const withIds = events.map((e) => (e.id === undefined ? { ...e, id: uuidv7() } : e));
    // Serialised now, as the ring serialises them: an object changed after the call is logged as
    // it was pushed.
    const logged = withIds.map(encodeEvent);
    const accepted = await this.#producer.pushMany(withIds);
    await this.#append(logged);
    return accepted;
  }

  pushRaw(bytes: Uint8Array | string, key?: string): Promise<boolean> {
    return this.pushRawRecords([{ data: bytes, ...(key === undefined ? {} : { key }) }]).then((n) => n === 1);
  }

  pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): Promise<number> {
    return this.pushRawRecords(lines.map((data) => ({ data, ...(key === undefined ? {} : { key }) })));
  }

  async pushRawRecords(records: readonly RawRecord[]): Promise<number> {
    const withIds = records.map((r) => (r.id === undefined ? { ...r, id: uuidv7() } : r));
    // Copied now: a source may reuse the buffer its lines are in once the push resolved.
    const logged = withIds.map(encodeRaw);
    const accepted = await this.#producer.pushRawRecords(withIds);
    await this.#append(logged);
    return accepted;
  }

  pushLines(batch: LineBatch): Promise<number> {
    const records: RawRecord[] = batch.starts.map((start, i) => ({
      data: batch.bytes.subarray(start, batch.ends[i]),
      ...(batch.idPrefix !== undefined ? { id: `${batch.idPrefix}${batch.idNumbers![i]}` } : {}),
      ...(batch.sourcePrefix !== undefined
        ? { source: `${batch.sourcePrefix}${batch.sourceNumbers![i]}` }
        : {}),
      ...(batch.key !== undefined ? { key: batch.key } : {}),
    }));
    return this.pushRawRecords(records);
  }

  /**
   * Appends, synchronously in call order (the order pushes were accepted in); resolves once
   * durable. An append that fails (a full disk) leaves its records in the ring — they are still
   * written — but not in the log: a gap the acknowledgement steps over, so later records keep
   * their places. The push rejects with the error: its events are not durable.
   */
  #append(records: Uint8Array[]): Promise<unknown> {
    const at = this.#ringOrdinal;
    this.#ringOrdinal += records.length;
    const appended = this.#log.append(records);
    // DiskLog.append writes synchronously: a failed write has rejected by now or never will.
    appended.catch(() => {
      this.#gaps.push({ at, count: records.length });
    });
    this.#logged += records.length;
    return appended;
  }

  /** Ring records this process accepted (replayed ones included), in ring order. */
  #ringOrdinal = 0;
  /** Runs of ring records whose append failed: in the ring, not in the log. */
  readonly #gaps: { at: number; count: number }[] = [];

  /** The ring's releases, as acknowledgements of the log (see the class comment). */
  #ack(): void {
    const released = Math.min(this.#queue.stats().recordsReleased - this.#releasedAtStart, this.#logged);
    let unlogged = 0;
    for (const gap of this.#gaps) unlogged += Math.max(0, Math.min(gap.count, released - gap.at));
    this.#log.ack(this.#base + released - unlogged);
  }

  /** Acknowledges what the ring released and closes the log (after the pipeline drained). */
  close(): void {
    clearInterval(this.#timer);
    this.#ack();
    this.#log.close();
  }
}

function encodeEvent(event: SluiceEvent): Uint8Array {
  const json = encoder.encode(JSON.stringify(event));
  const out = new Uint8Array(json.length + 1);
  out[0] = EVENT;
  out.set(json, 1);
  return out;
}

function encodeRaw(record: RawRecord): Uint8Array {
  const { data, ...header } = record;
  const head = encoder.encode(JSON.stringify(header));
  const body = typeof data === 'string' ? encoder.encode(data) : data;
  const out = new Uint8Array(1 + head.length + 1 + body.length);
  out[0] = RAW;
  out.set(head, 1);
  out[1 + head.length] = 0x0a;
  out.set(body, 2 + head.length);
  return out;
}
