import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { CumulativeHistogram } from '../cumulative-histogram.js';
import { ClosedError, QueueLockedError } from '../errors.js';

/** Upper bounds, seconds, of the fsync duration histogram. */
export const FSYNC_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/**
 * An append-only log of records in segment files, for a disk-backed queue: what it accepted
 * survives a process crash (and, fsynced, a power loss) until the consumer acknowledges it.
 *
 * Layout of `dir`:
 *   lock                       the pid of the process that holds the log (one at a time)
 *   acked                      the last acknowledged sequence number, as decimal text
 *   <first seq, 20 digits>.seg records, each framed [length u32 LE][crc32 u32 LE][bytes]
 *   <name>.corrupt             a segment set aside at open: a frame failed its checksum before the end
 *
 * Sequence numbers start at 1 and run across segments. A segment is deleted once every record in it
 * is acknowledged. At open, the last segment's tail is read until the first frame that is cut off
 * or fails its checksum, and cut there: that is a write a crash interrupted, never acknowledged as
 * durable (its append had not resolved). The same in any other segment is corruption: the segment
 * is renamed `.corrupt` and reported, and its records are not replayed: their sequence numbers,
 * up to the next segment's first, are a gap that reads skip (see skipGaps).
 */

export type FsyncPolicy = 'group' | 'interval' | 'never';

export interface DiskLogOptions {
  /**
   * `group`: an append resolves once fsynced; appends waiting meanwhile share the next fsync.
   * `interval`: an append resolves once written (it survives a process crash); fsync runs every
   * `fsyncIntervalMs`. `never`: written, never fsynced by Sluice (the OS flushes).
   * @default 'group'
   */
  fsync?: FsyncPolicy;
  /** @default 1000 */
  fsyncIntervalMs?: number;
  /** A segment is closed and a new one started past this size. @default 4 MiB */
  segmentBytes?: number;
  /** @internal The write call, replaced in tests to fail as a full disk does. */
  writeSync?: typeof writeSync;
  /** @internal The call that opens a new segment, replaced in tests to fail (no inode, EMFILE). */
  openSync?: typeof openSync;
}

/** What open found on disk. */
export interface Recovery {
  /** Records present and not acknowledged: replayed first. */
  records: number;
  /** Their bytes, framed. */
  bytes: number;
  /** Bytes cut off the last segment's tail (a write a crash interrupted). */
  tornBytes: number;
  /** The largest of those records, in bytes (its frame header not counted); 0 when none. */
  largestRecord: number;
  /** Segments renamed `.corrupt`, and the records of theirs that were readable before the damage. */
  setAside: { file: string; readableRecords: number; error: string }[];
  /** Whose lock was taken over: a process that no longer runs. */
  staleLockPid: number | undefined;
}

export interface DiskLogStats {
  /** Bytes in segment files. */
  bytes: number;
  /** Records appended and not acknowledged. */
  records: number;
  fsyncs: number;
  /** Sequence number of the last record appended (0: none yet). */
  lastSeq: number;
  /** The last acknowledged sequence number. */
  ackedSeq: number;
}

/** Sequence numbers `first..last` of a segment set aside at open: no record to read there. */
export interface Gap {
  first: number;
  last: number;
}

interface Segment {
  file: string;
  firstSeq: number;
  /** Records in it. */
  count: number;
  bytes: number;
}

const FRAME_HEADER = 8;
const MAX_RECORD = 0x7fff_ffff;
const SEGMENT_DIGITS = 20;

/** An append waiting for its bytes to be durable. */
interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class DiskLog {
  readonly dir: string;
  readonly recovery: Recovery;
  readonly #fsync: FsyncPolicy;
  readonly #segmentBytes: number;
  readonly #segments: Segment[];
  /** Sorted; each past the position acknowledged at open (recordAfter counts from there). */
  readonly #gaps: Gap[];
  readonly #write: typeof writeSync;
  readonly #open: typeof openSync;
  #fd: number | undefined;
  #lastSeq: number;
  #ackedSeq: number;
  #persistedAck: number;
  #persistedAt = performance.now();
  #fsyncs = 0;
  #closed = false;
  /** Appended and written, waiting for the group's fsync. */
  #waiting: Waiter[] = [];
  #flushScheduled = false;
  #interval: NodeJS.Timeout | undefined;
  #unsynced = false;
  /** Bytes in segment files. */
  #bytes = 0;
  /** Where the last read ended: the next record's sequence number, its segment, its offset there. */
  #reader: { seq: number; segment: Segment; offset: number; fd: number } | undefined;
  /** How long each fsync took, seconds. */
  readonly fsyncSeconds = new CumulativeHistogram(FSYNC_SECONDS_BUCKETS);

  private constructor(
    dir: string,
    options: DiskLogOptions,
    recovery: Recovery,
    segments: Segment[],
    acked: number,
    gaps: Gap[],
  ) {
    this.dir = dir;
    this.recovery = recovery;
    this.#fsync = options.fsync ?? 'group';
    this.#segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.#write = options.writeSync ?? writeSync;
    this.#open = options.openSync ?? openSync;
    this.#segments = segments;
    this.#gaps = gaps;
    const last = segments.at(-1);
    this.#lastSeq = last ? last.firstSeq + last.count - 1 : acked;
    this.#ackedSeq = acked;
    this.#persistedAck = acked;
    for (const s of segments) this.#bytes += s.bytes;
    if (last) this.#fd = openSync(join(dir, last.file), 'a');
    if (this.#fsync === 'interval') {
      this.#interval = setInterval(() => this.#syncNow(), options.fsyncIntervalMs ?? 1000);
      this.#interval.unref();
    }
  }

  /**
   * Opens (creating) the log in `dir`: takes its lock — a QueueLockedError naming the holder's pid
   * when another running process holds it — and recovers what a crash left (see Recovery).
   */
  static open(dir: string, options: DiskLogOptions = {}): DiskLog {
    mkdirSync(dir, { recursive: true });
    const staleLockPid = lock(dir);
    try {
      const acked = readAcked(dir);
      const recovery: Recovery = {
        records: 0,
        bytes: 0,
        tornBytes: 0,
        largestRecord: 0,
        setAside: [],
        staleLockPid,
      };
      const segments: Segment[] = [];
      const setAside: Gap[] = [];
      const names = readdirSync(dir)
        .filter((f) => /^\d{20}\.seg$/.test(f))
        .sort();
      names.forEach((file, i) => {
        const path = join(dir, file);
        const firstSeq = Number(file.slice(0, SEGMENT_DIGITS));
        const scan = scanSegment(readFileSync(path), acked - firstSeq + 1);
        if (scan.error !== undefined) {
          if (i === names.length - 1) {
            // The tail a crash cut off: its append never resolved.
            const fd = openSync(path, 'r+');
            try {
              ftruncateSync(fd, scan.validBytes);
              fdatasyncSync(fd);
            } finally {
              closeSync(fd);
            }
            recovery.tornBytes += scan.totalBytes - scan.validBytes;
          } else {
            renameSync(path, `${path}.corrupt`);
            // Its records, whole or not, are those numbered up to the next segment's first.
            setAside.push({ first: firstSeq, last: Number(names[i + 1]!.slice(0, SEGMENT_DIGITS)) - 1 });
            recovery.setAside.push({
              file: `${file}.corrupt`,
              readableRecords: scan.count,
              error: scan.error,
            });
            return;
          }
        }
        const segment = { file, firstSeq, count: scan.count, bytes: scan.validBytes };
        // Wholly acknowledged before the crash (its deletion did not happen yet): gone now.
        if (segment.count > 0 && firstSeq + segment.count - 1 <= acked) {
          unlinkSync(path);
          return;
        }
        segments.push(segment);
        recovery.bytes += scan.validBytes - scan.ackedBytes;
        recovery.largestRecord = Math.max(recovery.largestRecord, scan.largest);
      });
      // A segment is deleted only once all of it is acknowledged, but the position on disk moves
      // at most once a second: after a crash it may lag behind segments already gone. Whatever
      // came before the first segment left was acknowledged; reading from the position would
      // look for records no file holds.
      const first = segments[0];
      const ackedSeq = first === undefined ? acked : Math.max(acked, first.firstSeq - 1);
      for (const s of segments)
        recovery.records += Math.max(0, s.firstSeq + s.count - 1 - Math.max(ackedSeq, s.firstSeq - 1));
      const gaps = setAside
        .filter((g) => g.last > ackedSeq && g.last >= g.first)
        .map((g) => ({ first: Math.max(g.first, ackedSeq + 1), last: g.last }));
      return new DiskLog(dir, options, recovery, segments, ackedSeq, gaps);
    } catch (error) {
      unlock(dir);
      throw error;
    }
  }

  /**
   * Appends records; resolves with their sequence numbers once durable as the fsync policy says.
   * Written in one write() call; with `group`, every append made before the next fsync shares it.
   */
  append(records: readonly Uint8Array[]): Promise<{ firstSeq: number; lastSeq: number }> {
    if (this.#closed) return Promise.reject(new ClosedError('disk log'));
    if (records.length === 0) return Promise.resolve({ firstSeq: this.#lastSeq + 1, lastSeq: this.#lastSeq });
    let size = 0;
    for (const r of records) {
      if (r.length > MAX_RECORD)
        return Promise.reject(new RangeError(`a record of ${r.length} bytes is too large`));
      size += FRAME_HEADER + r.length;
    }
    const frames = Buffer.allocUnsafe(size);
    let at = 0;
    for (const r of records) {
      frames.writeUInt32LE(r.length, at);
      frames.writeUInt32LE(crc32(r), at + 4);
      frames.set(r, at + FRAME_HEADER);
      at += FRAME_HEADER + r.length;
    }
    return this.appendFrames(frames, records.length);
  }

  /**
   * Appends `count` records already framed — [length u32 LE][crc32 u32 LE][bytes] each, back to
   * back, as encodeFrames makes them — written as they are: the caller framed them (off this
   * thread, when a producer thread did). Resolves as append does.
   */
  appendFrames(frames: Buffer, count: number): Promise<{ firstSeq: number; lastSeq: number }> {
    if (this.#closed) return Promise.reject(new ClosedError('disk log'));
    if (count === 0) return Promise.resolve({ firstSeq: this.#lastSeq + 1, lastSeq: this.#lastSeq });
    const size = frames.length;
    const firstSeq = this.#lastSeq + 1;
    let segment: Segment | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        segment = this.#segmentFor(firstSeq, size);
        let written = 0;
        while (written < size) written += this.#write(this.#fd!, frames, written);
        break;
      } catch (error) {
        // A write cut short (a full disk) leaves part of a frame: cut it off, so that the next
        // append does not land after it (which would read as corruption in the middle).
        if (segment !== undefined && this.#fd !== undefined) {
          try {
            ftruncateSync(this.#fd, segment.bytes);
          } catch {
            // The open after a crash cuts a torn tail all the same.
          }
        }
        // Once, on a full disk: the space of a last segment the consumer has wholly acknowledged.
        if (
          attempt > 0 ||
          (error as NodeJS.ErrnoException).code !== 'ENOSPC' ||
          !this.#dropAcknowledgedLast()
        )
          return Promise.reject(error);
        segment = undefined;
      }
    }
    segment.count += count;
    segment.bytes += size;
    this.#bytes += size;
    this.#lastSeq += count;
    this.#unsynced = true;
    const range = { firstSeq, lastSeq: this.#lastSeq };
    if (this.#fsync !== 'group') return Promise.resolve(range);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve: () => resolve(range), reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // After the appends of this turn of the event loop, one fsync for all of them.
        setImmediate(() => this.#groupSync());
      }
    });
  }

  /** Every record whose sequence number is at most `seq` is acknowledged: fully acknowledged segments go. */
  ack(seq: number): void {
    if (seq <= this.#ackedSeq) return;
    this.#ackedSeq = Math.min(seq, this.#lastSeq);
    while (this.#segments.length > 1) {
      const first = this.#segments[0]!;
      if (first.firstSeq + first.count - 1 > this.#ackedSeq) break;
      this.#segments.shift();
      this.#bytes -= first.bytes;
      try {
        unlinkSync(join(this.dir, first.file));
      } catch {
        // Left on disk, it is deleted at the next open once the position covers it, or replayed
        // again (sinks deduplicate by id): no reason to fail the consumer's acknowledgement.
      }
    }
    // The position moves on disk at most once a second, and at close: each write is a rename
    // (and under `group` an fsync). After a crash, what was acknowledged since is replayed again —
    // at least once, and sinks deduplicate by id. A segment deleted meanwhile needs no newer
    // position: open() replays what the remaining segments hold past the one it reads.
    if (performance.now() - this.#persistedAt >= 1000) this.#persistAck();
  }

  /** The records not acknowledged, oldest first, as their bytes (a copy each). */
  *replay(): Generator<{ seq: number; bytes: Buffer }> {
    for (const segment of [...this.#segments]) {
      const data = readFileSync(join(this.dir, segment.file));
      let at = 0;
      for (let i = 0; i < segment.count; i++) {
        const length = data.readUInt32LE(at);
        const seq = segment.firstSeq + i;
        if (seq > this.#ackedSeq)
          yield { seq, bytes: Buffer.from(data.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length)) };
        at += FRAME_HEADER + length;
      }
    }
  }

  /** The first sequence number from `seq` on that no gap (a segment set aside at open) hides. */
  skipGaps(seq: number): number {
    for (const gap of this.#gaps) if (seq >= gap.first && seq <= gap.last) seq = gap.last + 1;
    return seq;
  }

  /** The sequence number of the `k`-th record after `seq` that a gap does not hide. */
  recordAfter(seq: number, k: number): number {
    let at = seq + k;
    for (const gap of this.#gaps) {
      const first = Math.max(gap.first, seq + 1);
      if (first > gap.last) continue;
      if (first > at) break;
      at += gap.last - first + 1;
    }
    return at;
  }

  /**
   * Reads records from sequence number `seq` on (appended, not acknowledged): at least one, more
   * while they fit in `maxBytes`, all from one segment — where each lies in one buffer read from
   * the file (record i: `bytes[starts[i], starts[i] + sizes[i])`).
   * A read that goes on from where the last one ended costs one read(); any other position is
   * found by reading its segment's frames before it. Checksums were checked at open for what an
   * earlier process wrote; what this one wrote is read as written.
   */
  read(seq: number, maxBytes: number): { bytes: Buffer; starts: number[]; sizes: number[] } {
    if (!(seq > this.#ackedSeq && seq <= this.#lastSeq))
      throw new RangeError(`record ${seq} is not in the log (${this.#ackedSeq + 1}..${this.#lastSeq})`);
    let r = this.#reader;
    const ends = (s: Segment) => s.firstSeq + s.count;
    if (r === undefined || seq < r.seq || seq >= ends(r.segment) || !this.#segments.includes(r.segment)) {
      const segment = this.#segments.find((s) => seq >= s.firstSeq && seq < ends(s));
      if (segment === undefined) throw new RangeError(`record ${seq} was in a segment set aside at open`);
      if (r !== undefined) closeSync(r.fd);
      r = { seq: segment.firstSeq, segment, offset: 0, fd: openSync(join(this.dir, segment.file), 'r') };
      this.#reader = r;
    }
    let budget = Math.max(maxBytes, FRAME_HEADER);
    for (;;) {
      const starts: number[] = [];
      const sizes: number[] = [];
      const chunk = Buffer.allocUnsafe(Math.min(budget, r.segment.bytes - r.offset));
      let got = 0;
      while (got < chunk.length) {
        const n = readSync(r.fd, chunk, got, chunk.length - got, r.offset + got);
        if (n === 0) throw new Error(`${r.segment.file} ends at byte ${r.offset + got}, before its records`);
        got += n;
      }
      let at = 0;
      while (at + FRAME_HEADER <= chunk.length) {
        const length = chunk.readUInt32LE(at);
        const end = at + FRAME_HEADER + length;
        if (end > chunk.length) {
          // A record larger than what is left of the budget: the next round reads it whole.
          if (at === 0) budget = end;
          break;
        }
        if (r.seq >= seq) {
          starts.push(at + FRAME_HEADER);
          sizes.push(length);
        }
        at = end;
        r.seq++;
      }
      r.offset += at;
      if (starts.length > 0) return { bytes: chunk, starts, sizes };
    }
  }

  /** Bytes in segment files: what the log takes on disk. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The last record appended (0: none yet). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  stats(): DiskLogStats {
    let hidden = 0;
    for (const gap of this.#gaps) hidden += Math.max(0, gap.last - Math.max(gap.first - 1, this.#ackedSeq));
    return {
      bytes: this.#bytes,
      records: this.#lastSeq - this.#ackedSeq - hidden,
      fsyncs: this.#fsyncs,
      lastSeq: this.#lastSeq,
      ackedSeq: this.#ackedSeq,
    };
  }

  /** Syncs what was written, persists the ack position and releases the lock. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#interval);
    this.#groupSync();
    this.#persistAck();
    if (this.#reader !== undefined) closeSync(this.#reader.fd);
    this.#reader = undefined;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    unlock(this.dir);
  }

  /**
   * Deletes the last segment when every record in it is acknowledged, so that the next append
   * starts a new one: ack() always keeps the last segment, the one appends go to, and on a full
   * disk its acknowledged records would otherwise hold the space for good. Returns whether it did.
   */
  #dropAcknowledgedLast(): boolean {
    const last = this.#segments.at(-1);
    if (last === undefined || last.count === 0 || last.firstSeq + last.count - 1 > this.#ackedSeq)
      return false;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    // An open descriptor would keep the deleted file's blocks.
    if (this.#reader?.segment === last) {
      closeSync(this.#reader.fd);
      this.#reader = undefined;
    }
    this.#segments.pop();
    this.#bytes -= last.bytes;
    // Were this process to die before the next segment holds a record, open finds no segment and
    // starts after the position on disk: every record up to it, and all of this one, acknowledged.
    unlinkSync(join(this.dir, last.file));
    return true;
  }

  #segmentFor(firstSeq: number, size: number): Segment {
    const current = this.#segments.at(-1);
    if (
      current &&
      this.#fd !== undefined &&
      (current.bytes === 0 || current.bytes + size <= this.#segmentBytes)
    )
      return current;
    if (this.#fd !== undefined) {
      // What the closed segment holds is synced before records land in the next one.
      if (this.#fsync !== 'never') this.#syncNow();
      closeSync(this.#fd);
      // Forgotten at once: should the open below fail, the number may be given to another file
      // of this process, which the next append would write into or close.
      this.#fd = undefined;
    }
    const file = `${String(firstSeq).padStart(SEGMENT_DIGITS, '0')}.seg`;
    this.#fd = this.#open(join(this.dir, file), 'a');
    // Counted as the current segment as soon as it is open: should the sync below fail, the next
    // append writes to this file and must account for it here, not in the closed one.
    const segment = { file, firstSeq, count: 0, bytes: 0 };
    this.#segments.push(segment);
    // The new file's directory entry must survive a power loss too.
    if (this.#fsync !== 'never') syncDir(this.dir);
    return segment;
  }

  #groupSync(): void {
    this.#flushScheduled = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    try {
      this.#syncNow();
    } catch (error) {
      for (const w of waiting) w.reject(error);
      return;
    }
    for (const w of waiting) w.resolve();
  }

  #syncNow(): void {
    if (!this.#unsynced || this.#fd === undefined) return;
    const started = performance.now();
    fdatasyncSync(this.#fd);
    this.#unsynced = false;
    this.#fsyncs++;
    this.fsyncSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * Never throws: it runs from the consumer's acknowledgements and from close(), and a position
   * that could not be written (a full disk) is only an older one read back after a crash, which
   * replays records again — at least once, and sinks deduplicate by id. Tried again a second later.
   */
  #persistAck(): void {
    if (this.#ackedSeq === this.#persistedAck) return;
    try {
      this.#writeAck();
    } catch {
      // A partly written acked.tmp is never read: the next write replaces it.
      this.#persistedAt = performance.now();
    }
  }

  #writeAck(): void {
    const tmp = join(this.dir, 'acked.tmp');
    writeFileSync(tmp, String(this.#ackedSeq));
    // Synced only under `group`: a position lost to a power loss (an older one, or none, read
    // back) only replays records again — at least once, and sinks deduplicate by id — so the
    // policies that already accept losing the last writes to a power loss skip this fsync too.
    if (this.#fsync === 'group') {
      const fd = openSync(tmp, 'r');
      try {
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(tmp, join(this.dir, 'acked'));
    this.#persistedAck = this.#ackedSeq;
    this.#persistedAt = performance.now();
  }
}

/**
 * Reads frames from the start: how many are whole and pass their checksum, where that ends, how
 * many bytes the first `acked` records take, and the largest record after them.
 */
function scanSegment(
  data: Buffer,
  acked: number,
): {
  count: number;
  validBytes: number;
  totalBytes: number;
  ackedBytes: number;
  largest: number;
  error?: string;
} {
  let at = 0;
  let count = 0;
  let ackedBytes = 0;
  let largest = 0;
  while (at < data.length) {
    if (count === acked) ackedBytes = at;
    if (data.length - at < FRAME_HEADER)
      return {
        count,
        validBytes: at,
        totalBytes: data.length,
        ackedBytes: Math.min(ackedBytes, at),
        largest,
        error: `a frame header cut off at byte ${at}`,
      };
    const length = data.readUInt32LE(at);
    const end = at + FRAME_HEADER + length;
    if (length > MAX_RECORD || end > data.length)
      return {
        count,
        validBytes: at,
        totalBytes: data.length,
        ackedBytes: Math.min(ackedBytes, at),
        largest,
        error: `a record cut off at byte ${at}`,
      };
    if (crc32(data.subarray(at + FRAME_HEADER, end)) !== data.readUInt32LE(at + 4))
      return {
        count,
        validBytes: at,
        totalBytes: data.length,
        ackedBytes: Math.min(ackedBytes, at),
        largest,
        error: `a checksum mismatch at byte ${at}`,
      };
    if (count >= acked) largest = Math.max(largest, length);
    at = end;
    count++;
  }
  if (count <= acked) ackedBytes = at;
  return { count, validBytes: at, totalBytes: data.length, ackedBytes, largest };
}

function readAcked(dir: string): number {
  try {
    const n = Number(readFileSync(join(dir, 'acked'), 'utf8').trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Takes the directory's lock; returns the pid of a holder that no longer runs, taken over. */
function lock(dir: string): number | undefined {
  const path = join(dir, 'lock');
  const takeover = join(dir, 'lock.takeover');
  let stale: number | undefined;
  // A live process holds the takeover file for a few system calls: waited for, about a second.
  for (let attempt = 0; attempt < 200; attempt++) {
    if (createWithPid(path)) return stale;
    const holder = readPid(path);
    // Gone meanwhile: try again to create it.
    if (holder === GONE) continue;
    if (holder !== undefined && alive(holder)) throw new QueueLockedError(dir, holder);
    stale ??= holder;
    // The holder is dead. Of the processes that saw so, only the one holding the takeover file
    // may remove the lock, after reading it again while holding it: a lock that exists then can
    // be neither removed nor replaced by anyone else until the takeover file is given back.
    if (!createWithPid(takeover)) {
      const taker = readPid(takeover);
      // Left by a process that died while taking over: no one else would ever remove it.
      if (typeof taker === 'number' && !alive(taker)) rmSync(takeover, { force: true });
      else sleep(5);
      continue;
    }
    try {
      const again = readPid(path);
      if (typeof again === 'number' && alive(again)) throw new QueueLockedError(dir, again);
      if (again !== GONE) rmSync(path, { force: true });
    } finally {
      rmSync(takeover, { force: true });
    }
  }
  throw new QueueLockedError(dir, undefined);
}

/**
 * Creates `path` holding this process's pid, or returns false when it exists. Written to a file of
 * its own first and linked into place (link fails on an existing name, as O_EXCL does), so that
 * no process ever reads the file empty — which would look like a dead holder's.
 */
function createWithPid(path: string): boolean {
  const tmp = `${path}.${process.pid}.${threadId}.tmp`;
  writeFileSync(tmp, String(process.pid));
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A file system without hard links (FAT, some network and FUSE ones): O_EXCL alone, which
    // still lets one of two racing processes create the file, read empty for an instant.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS')
      return createExclusive(path);
    throw error;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function createExclusive(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, String(process.pid));
  } finally {
    closeSync(fd);
  }
  return true;
}

const GONE = Symbol('gone');

/** The pid a lock file names: undefined when it names none, GONE when there is no such file. */
function readPid(path: string): number | undefined | typeof GONE {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return GONE;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function unlock(dir: string): void {
  const path = join(dir, 'lock');
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** Whether a process with this pid runs (this process counts: it may not open the log twice). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
