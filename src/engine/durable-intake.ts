import type { SluiceEvent } from '../codec/event.js';
import type { HistogramSnapshot } from '../cumulative-histogram.js';
import { ClosedError, DiskQueueFailedError, InvalidOptionError, QueueFullError } from '../errors.js';
import { DiskLog, type DiskLogStats } from '../queue/disk-log.js';
import { DiskProducerPort, linesOf } from '../queue/disk-producer.js';
import type { EventQueue } from '../queue/event-queue.js';
import { STAT_DROPPED_NEWEST, STAT_REJECTED } from '../queue/layout.js';
import {
  AsyncQueueProducer,
  preparedEvents,
  preparedLines,
  preparedRawRecords,
  type RawRecord,
} from '../queue/producer.js';
import type { ResolvedQueueOptions } from '../queue/queue-options.js';
import {
  encodeFrames,
  FRAME_HEADER_BYTES,
  type FramedImages,
  framesOf,
  isImage,
  type PreparedRecord,
  prepareEvent,
  prepareRaw,
} from '../queue/record-codec.js';
import type { LineBatch } from '../queue/record-run.js';

/** Errors of opening the log that say its directory cannot be made or written by this process. */
const UNUSABLE_PATH = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EEXIST']);
/** What the feeder moves into the ring at a time, at most. */
const FEED_BYTES = 1024 * 1024;
/** The records of a log written before records were kept as ring images. */
const LEGACY_EVENT = 0x65; // e
const LEGACY_RAW = 0x72; // r

/** A push waiting for room on disk, in call order. */
interface RoomWaiter {
  frames: FramedImages;
  bytes: number;
  resolve: (accepted: Promise<number>) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  since: number;
}

/** Recently appended images still in memory, so that the feeder need not read them back. */
interface HotChunk {
  firstSeq: number;
  frames: FramedImages;
}

export interface DurableIntakeStats extends DiskLogStats {
  /** Records replayed at open: accepted before, never acknowledged. */
  replayed: number;
  /** Records on disk not yet moved into the ring: the backlog beyond the ring. */
  backlogRecords: number;
  /** Their bytes, framed: what `maxDiskBytes` bounds. */
  backlogBytes: number;
  /** Bytes this process appended to the log, framed. */
  bytesAppended: number;
}

/**
 * The pipeline's intake with `queue.durability: 'disk'`. A push is validated and serialised at
 * the call — into the ring's own record format, framed and checksummed (encodeFrames), each event with its id — appended
 * to the disk log (src/queue/disk-log.ts), and resolves once the log holds it durably as `fsync`
 * says. It does not wait for the ring: a feeder moves records from the log into the ring in log
 * order as the ring has room, copying their images as they are (no second serialisation). So the
 * ring stays the in-memory window the workers read from, and the disk holds the backlog behind it
 * — up to `maxDiskBytes`, past which the queue's full policy applies to pushes, as the ring's
 * does without a disk. Memory stays flat however long the backlog: the newest appends are kept in
 * memory up to a ring's worth (the feeder usually takes them from there), older ones are read
 * back from the log.
 *
 * Acknowledgement: the ring holds only what the feeder put there, in log order, so the k-th record
 * this process put in the ring is the log's k-th record after `base` (acknowledged when the log
 * was opened): `base + k`, counting over any gap a segment set aside at open left. The ring's release count is therefore the log's acknowledgement, read every 10 ms.
 * On open the feeder starts at `base + 1`: what was accepted and never acknowledged is replayed
 * first, before anything pushed since.
 */
export class DurableIntake {
  readonly #log: DiskLog;
  readonly #queue: EventQueue;
  readonly #ring: AsyncQueueProducer;
  readonly #options: ResolvedQueueOptions;
  readonly #maxDiskBytes: number;
  /** The log's acknowledged sequence number when it was opened. */
  readonly #base: number;
  /** The ring's records released, and written, before this process's first push (none: a new ring). */
  readonly #releasedAtStart: number;
  readonly #writtenAtStart: number;
  /** The last record handed to the ring (or skipped: a gap in the log). */
  #fed: number;
  /** Records handed to the ring. */
  #fedRecords = 0;
  /** Records between `base` and the log's last at open that a gap hides: never fed. */
  readonly #gapRecords: number;
  /** Framed bytes appended (replayed ones included) and fed: their difference is the backlog. */
  #appendedBytes: number;
  #fedBytes = 0;
  readonly #hot: HotChunk[] = [];
  #hotHead = 0;
  #hotBytes = 0;
  readonly #hotMax: number;
  #wakeFeeder: (() => void) | undefined;
  readonly #fedWaiters: { seq: number; resolve: () => void }[] = [];
  readonly #roomWaiters: RoomWaiter[] = [];
  #accepting = true;
  #failure: unknown;
  #ackTimer: NodeJS.Timeout | undefined;
  readonly #feeding: Promise<void>;
  readonly replayed: number;

  constructor(options: ResolvedQueueOptions, queue: EventQueue, onFeedError: (error: unknown) => void) {
    try {
      this.#log = DiskLog.open(options.path!, {
        fsync: options.fsync,
        fsyncIntervalMs: options.fsyncIntervalMs,
        // A segment is deleted only once all of it is acknowledged: small ones keep disk use close
        // to what is in flight when `maxDiskBytes` is small.
        segmentBytes: Math.max(64 * 1024, Math.min(4 * 1024 * 1024, Math.floor(options.maxDiskBytes / 8))),
      });
    } catch (error) {
      // A path the process may not create or write in is the user's to fix, not a bug.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== undefined && UNUSABLE_PATH.has(code))
        throw new InvalidOptionError(
          'queue.path',
          `a directory this process can create and write in (${(error as Error).message})`,
          options.path,
        );
      throw error;
    }
    // A ring takes records of up to a quarter of its capacity: one larger, logged by a process
    // with a larger ring, would wait for room for ever and hold back everything behind it.
    const largest = this.#log.recovery.largestRecord + FRAME_HEADER_BYTES;
    if (this.#log.recovery.records > 0 && largest > options.capacityBytes / 4) {
      this.#log.close();
      let needed = options.capacityBytes;
      while (needed / 4 < largest) needed *= 2;
      throw new InvalidOptionError(
        'queue.capacityBytes',
        `at least ${needed} to replay the log in ${options.path} (a record there takes ${largest} bytes; a ring holds records of up to a quarter of its capacity)`,
        options.capacityBytes,
      );
    }
    this.#options = options;
    this.#queue = queue;
    this.#maxDiskBytes = options.maxDiskBytes;
    // The feeder always waits for room: the full policy is applied to pushes, at the disk.
    this.#ring = new AsyncQueueProducer(queue, { policy: 'block', rejectTimeoutMs: 0 });
    const { ackedSeq, lastSeq } = this.#log.stats();
    this.#base = ackedSeq;
    this.#fed = ackedSeq;
    this.#appendedBytes = this.#log.recovery.bytes;
    // A ring's worth, or the whole backlog when maxDiskBytes is larger, up to 64 MiB.
    this.#hotMax = Math.min(Math.max(options.capacityBytes, options.maxDiskBytes), 64 * 1024 * 1024);
    this.#releasedAtStart = queue.stats().recordsReleased;
    this.#writtenAtStart = queue.stats().recordsWritten;
    this.replayed = this.#log.recovery.records;
    this.#gapRecords = lastSeq - ackedSeq - this.replayed;
    this.#feeding = this.#feed().catch((error: unknown) => {
      if (error instanceof ClosedError) return;
      this.#failure = error;
      for (const w of this.#roomWaiters.splice(0)) this.#settleWaiter(w, error);
      onFeedError(error);
    });
    this.#ackTimer = setInterval(() => this.#ack(), 10);
    this.#ackTimer.unref();
  }

  get recovery() {
    return this.#log.recovery;
  }

  stats(): DurableIntakeStats {
    return {
      ...this.#log.stats(),
      replayed: this.replayed,
      // The ring's own count: a feed in progress has put part of its records there already.
      backlogRecords:
        this.#log.lastSeq -
        this.#base -
        this.#gapRecords -
        (this.#queue.stats().recordsWritten - this.#writtenAtStart),
      backlogBytes: this.#appendedBytes - this.#fedBytes,
      bytesAppended: this.#appendedBytes - this.#log.recovery.bytes,
    };
  }

  /** How long each fsync took, seconds. */
  fsyncSeconds(): HistogramSnapshot {
    return this.#log.fsyncSeconds.snapshot();
  }

  // Every push validates and serialises everything first (a refused event rejects the push and
  // nothing of it is logged), then appends in call order.

  async push(event: SluiceEvent): Promise<boolean> {
    return (await this.#accept([prepareEvent(event, this.#options.maxRecordBytes)])) === 1;
  }

  async pushMany(events: readonly SluiceEvent[]): Promise<number> {
    return this.#accept(preparedEvents(events, this.#options.maxRecordBytes));
  }

  async pushRaw(bytes: Uint8Array | string, key?: string): Promise<boolean> {
    return (await this.#accept([prepareRaw(bytes, key, this.#options.maxRecordBytes)])) === 1;
  }

  async pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): Promise<number> {
    return this.#accept(preparedLines(lines, key, this.#options.maxRecordBytes));
  }

  async pushRawRecords(records: readonly RawRecord[]): Promise<number> {
    return this.#accept(preparedRawRecords(records, this.#options.maxRecordBytes));
  }

  async pushLines(batch: LineBatch): Promise<number> {
    return this.#accept(linesOf(batch, this.#options.maxRecordBytes));
  }

  /** Where producer threads' pushes arrive (see DiskProducerPort); part of the producer handle. */
  readonly producers = new DiskProducerPort((frames) => this.#admit(frames));

  /**
   * Stops intake: later pushes reject with ClosedError, as do pushes still waiting for room. The
   * feeder goes on; resolves once everything appended is in the ring (or the ring was closed).
   */
  async stopIntake(): Promise<void> {
    this.#accepting = false;
    for (const w of this.#roomWaiters.splice(0)) this.#settleWaiter(w, new ClosedError('queue'));
    this.#wake();
    await this.#feeding;
  }

  /**
   * Resolves once everything pushed before the call is written, dead-lettered or dropped:
   * once the feeder has put it in the ring, and the ring released past it.
   */
  async settled(releasedPast: (ends: Map<number, number>) => Promise<void>): Promise<void> {
    await this.#fedThrough(this.#log.lastSeq);
    return releasedPast(this.#ring.publishedEnds());
  }

  /** Resolves once everything appended before the call is in the ring. */
  fedUpToNow(): Promise<void> {
    return this.#fedThrough(this.#log.lastSeq);
  }

  /** Acknowledges what the ring released and closes the log (after the pipeline drained). */
  close(): void {
    this.#accepting = false;
    clearInterval(this.#ackTimer);
    this.#wake();
    this.#ack();
    this.#log.close();
    // After the log's last sync has settled every append: their threads hear "accepted".
    void this.producers.close();
  }

  #accept(records: PreparedRecord[]): Promise<number> {
    if (records.length === 0) return Promise.resolve(0);
    return this.#admit(encodeFrames(records));
  }

  /** Appends now when the backlog has room and nobody waits before; else applies the full policy. */
  #admit(frames: FramedImages): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.#accepting) return Promise.reject(new ClosedError('queue'));
    const bytes = frames.bytes.length;
    const count = frames.starts.length;
    if (this.#roomWaiters.length === 0 && this.#hasRoom(bytes)) return this.#append(frames);
    const { policy, rejectTimeoutMs } = this.#options;
    const stats = this.#queue.rings[0]!.stats;
    if (policy === 'drop-newest') {
      Atomics.add(stats, STAT_DROPPED_NEWEST, BigInt(count));
      return Promise.resolve(0);
    }
    if (policy === 'reject' && rejectTimeoutMs === 0) {
      Atomics.add(stats, STAT_REJECTED, BigInt(count));
      return Promise.reject(new QueueFullError(0));
    }
    return new Promise<Promise<number>>((resolve, reject) => {
      const waiter: RoomWaiter = {
        frames,
        bytes,
        resolve,
        reject,
        timer: undefined,
        since: performance.now(),
      };
      if (policy === 'reject' && Number.isFinite(rejectTimeoutMs))
        waiter.timer = setTimeout(() => {
          const at = this.#roomWaiters.indexOf(waiter);
          if (at < 0) return;
          this.#roomWaiters.splice(at, 1);
          Atomics.add(stats, STAT_REJECTED, BigInt(count));
          reject(new QueueFullError(Math.round(performance.now() - waiter.since)));
          // The next one in line may fit where this one did not.
          this.#admitWaiting();
        }, rejectTimeoutMs);
      this.#roomWaiters.push(waiter);
    }).then((appended) => appended);
  }

  /**
   * Room for `bytes` more in the backlog — what is on disk and not yet in the ring. An empty
   * backlog always has room, whatever the size: a push larger than `maxDiskBytes` goes through
   * alone rather than waiting for ever.
   */
  #hasRoom(bytes: number): boolean {
    const backlog = this.#appendedBytes - this.#fedBytes;
    return backlog === 0 || backlog + bytes <= this.#maxDiskBytes;
  }

  #admitWaiting(): void {
    while (this.#roomWaiters.length > 0 && this.#hasRoom(this.#roomWaiters[0]!.bytes)) {
      const w = this.#roomWaiters.shift()!;
      clearTimeout(w.timer);
      // Appended here, synchronously, in line order: a push arriving meanwhile cannot pass it.
      w.resolve(this.#append(w.frames));
    }
  }

  #settleWaiter(w: RoomWaiter, error: unknown): void {
    clearTimeout(w.timer);
    w.reject(error);
  }

  /** Appends (one write, synchronously), keeps the images for the feeder; resolves once durable. */
  #append(frames: FramedImages): Promise<number> {
    const firstSeq = this.#log.lastSeq + 1;
    const count = frames.starts.length;
    const appended = this.#log.appendFrames(frames.bytes, count);
    // DiskLog.appendFrames writes synchronously: when lastSeq moved, the records are in the log.
    if (this.#log.lastSeq >= firstSeq) {
      const bytes = frames.bytes.length;
      this.#appendedBytes += bytes;
      this.#hot.push({ firstSeq, frames });
      this.#hotBytes += bytes;
      // Beyond a ring's worth in memory, the oldest are read back from the log when their turn comes.
      while (this.#hotBytes > this.#hotMax && this.#hotHead < this.#hot.length - 1) this.#dropHot();
      this.#wake();
    }
    return appended.then(
      () => count,
      (error: unknown) => {
        // The system's error alone (`ENOSPC: no space left on device, write`) names neither Sluice
        // nor the directory, and carries no code a caller can classify by.
        throw new DiskQueueFailedError(
          `the disk queue could not write the push to ${this.#log.dir}: ${(error as Error).message}`,
          { cause: error },
        );
      },
    );
  }

  #dropHot(): void {
    this.#hotBytes -= this.#hot[this.#hotHead]!.frames.bytes.length;
    this.#hot[this.#hotHead++] = undefined as unknown as HotChunk;
    if (this.#hotHead > 1024 && this.#hotHead * 2 > this.#hot.length) {
      this.#hot.splice(0, this.#hotHead);
      this.#hotHead = 0;
    }
  }

  #wake(): void {
    const wake = this.#wakeFeeder;
    this.#wakeFeeder = undefined;
    wake?.();
  }

  /** Moves records from the log into the ring, in log order, as the ring has room. */
  async #feed(): Promise<void> {
    for (;;) {
      // Records of a segment set aside at open are not there to feed: passed over, as if fed.
      this.#fed = this.#log.skipGaps(this.#fed + 1) - 1;
      while (this.#fed >= this.#log.lastSeq) {
        if (!this.#accepting) return;
        await new Promise<void>((resolve) => {
          this.#wakeFeeder = resolve;
        });
      }
      const { frames, from, to } = this.#next();
      await this.#ring.pushImages(frames, from, to);
      this.#fed += to - from;
      this.#fedRecords += to - from;
      let bytes = 0;
      for (let i = from; i < to; i++) bytes += frames.sizes[i]!;
      this.#fedBytes += bytes;
      while (this.#fedWaiters.length > 0 && this.#fedWaiters[0]!.seq <= this.#fed)
        this.#fedWaiters.shift()!.resolve();
      this.#admitWaiting();
    }
  }

  /** The next records to feed: from memory when they are still there, else read back from the log. */
  #next(): { frames: FramedImages; from: number; to: number } {
    const seq = this.#fed + 1;
    while (this.#hotHead < this.#hot.length) {
      const chunk = this.#hot[this.#hotHead]!;
      const count = chunk.frames.starts.length;
      if (chunk.firstSeq + count <= seq) {
        this.#dropHot();
        continue;
      }
      if (chunk.firstSeq > seq) break;
      this.#dropHot();
      return { frames: chunk.frames, from: seq - chunk.firstSeq, to: count };
    }
    const read = asImages(this.#log.read(seq, FEED_BYTES), seq);
    return { frames: read, from: 0, to: read.starts.length };
  }

  #fedThrough(seq: number): Promise<void> {
    if (this.#fed >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      // Waiters are added with a growing lastSeq, so the list stays sorted.
      this.#fedWaiters.push({ seq, resolve });
    });
  }

  /** The ring's releases, as acknowledgements of the log (see the class comment). */
  #ack(): void {
    const released = this.#queue.stats().recordsReleased - this.#releasedAtStart;
    this.#log.ack(this.#log.recordAfter(this.#base, Math.min(released, this.#fedRecords)));
  }
}

/**
 * Records read back from the log (the first is record `firstSeq`), as framed images. A log written
 * before records were kept as images holds JSON forms instead: those are converted. A record that
 * is neither — it passed its checksum, so something wrote it so — is not dropped and does not stop
 * the feeder: it goes on as a raw line of its own bytes, with the id `disk-queue-unreadable-<seq>`,
 * which a worker dead-letters with the reason its parse gives (or writes, if the bytes are an event).
 */
function asImages(read: FramedImages, firstSeq: number): FramedImages {
  // The log gives where each record's data lies, after its 8-byte frame header; an image starts
  // with that header.
  const { bytes } = read;
  const starts = read.starts.map((start) => start - FRAME_HEADER_BYTES);
  const sizes = read.sizes.map((size) => size + FRAME_HEADER_BYTES);
  let images = true;
  for (let i = 0; i < starts.length && images; i++) images = isImage(bytes, starts[i]!, sizes[i]!);
  if (images) return { bytes, starts, sizes };
  // Sizes are not checked against this ring's maxRecordBytes: the records were accepted already.
  const max = Number.MAX_SAFE_INTEGER;
  const frames = starts.map((start, i) => {
    const size = sizes[i]!;
    // An image is its own frame (header and checksum as read).
    if (isImage(bytes, start, size)) return bytes.subarray(start, start + size);
    const record = bytes.subarray(start + FRAME_HEADER_BYTES, start + size);
    const seq = firstSeq + i;
    const prepared =
      olderForm(record, max) ??
      prepareRaw(record, undefined, max, `disk-queue-unreadable-${seq}`, `disk-queue:${seq}`);
    return encodeFrames([prepared]).bytes;
  });
  return framesOf(Buffer.concat(frames))!;
}

/** A record as the log held it before images: `e` and an event's JSON, or `r`, a header line and the raw bytes. */
function olderForm(record: Buffer, max: number): PreparedRecord | undefined {
  try {
    if (record[0] === LEGACY_EVENT)
      return prepareEvent(JSON.parse(record.subarray(1).toString('utf8')) as SluiceEvent, max);
    if (record[0] === LEGACY_RAW) {
      const end = record.indexOf(0x0a, 1);
      if (end < 0) return undefined;
      const header = JSON.parse(record.subarray(1, end).toString('utf8')) as Omit<RawRecord, 'data'>;
      return prepareRaw(record.subarray(end + 1), header.key, max, header.id, header.source);
    }
  } catch {
    // Not the older form after all.
  }
  return undefined;
}
