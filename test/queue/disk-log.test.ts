/**
 * The disk log under a disk queue: what an append resolved for is there after a crash, exactly,
 * in order; a torn tail is cut off and nothing else; a corrupt segment in the middle is set aside
 * and reported; acknowledged segments go; one process at a time.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueLockedError } from '../../src/errors.js';
import { prng } from '../../src/harness/prng.js';
import { DiskLog } from '../../src/queue/disk-log.js';

let dir: string;
const open: DiskLog[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-disk-log-'));
});
afterEach(() => {
  for (const log of open.splice(0)) log.close();
  rmSync(dir, { recursive: true, force: true });
});

function openLog(options = {}): DiskLog {
  const log = DiskLog.open(dir, options);
  open.push(log);
  return log;
}

/**
 * As if the process died: no sync, no ack written, nothing closed. Its lock names this process,
 * which still runs, so the lock file is removed as a dead holder's would be taken over.
 */
function crash(log: DiskLog): void {
  open.splice(open.indexOf(log), 1);
  rmSync(join(log.dir, 'lock'), { force: true });
}

const record = (i: number, size = 20 + (i % 50)) =>
  Buffer.from(`r${i}:`.padEnd(size, String.fromCharCode(97 + (i % 26))));
const texts = (log: DiskLog) => [...log.replay()].map((r) => r.bytes.toString());
const segments = () =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();

describe('DiskLog', () => {
  it('replays every appended record, in order, after reopening; acknowledged ones are not replayed', async () => {
    const log = openLog({ segmentBytes: 1024 });
    const all = Array.from({ length: 300 }, (_, i) => record(i));
    for (let i = 0; i < all.length; i += 7) await log.append(all.slice(i, i + 7));
    expect(log.stats()).toMatchObject({ records: 300, lastSeq: 300, ackedSeq: 0 });
    expect(segments().length).toBeGreaterThan(5);
    log.ack(120);
    log.close();
    open.splice(open.indexOf(log), 1);
    const again = openLog({ segmentBytes: 1024 });
    expect(again.recovery).toMatchObject({ records: 180, tornBytes: 0, setAside: [] });
    expect(texts(again)).toEqual(all.slice(120).map(String));
    // New appends continue the sequence.
    expect(await again.append([Buffer.from('next')])).toEqual({ firstSeq: 301, lastSeq: 301 });
  });

  it('a crash after acknowledged segments were deleted, before the position was written: open starts at the first segment left, and every record after it is read back', async () => {
    const log = openLog({ segmentBytes: 600 });
    const all = Array.from({ length: 60 }, (_, i) => record(i, 40));
    for (const r of all) await log.append([r]);
    // Within a second of opening: the segments go, the position on disk does not move.
    log.ack(50);
    expect(existsSync(join(dir, 'acked'))).toBe(false);
    const left = segments();
    expect(left.length).toBe(1);
    const firstLeft = Number(left[0]!.slice(0, 20));
    crash(log);
    const again = openLog({ segmentBytes: 600 });
    const expected = all.slice(firstLeft - 1).map(String);
    expect(again.recovery).toMatchObject({ records: expected.length, tornBytes: 0, setAside: [] });
    expect(again.stats()).toMatchObject({ records: expected.length, ackedSeq: firstLeft - 1, lastSeq: 60 });
    expect(texts(again)).toEqual(expected);
    const read: string[] = [];
    for (let seq = firstLeft; seq <= 60; ) {
      const { bytes, starts, sizes } = again.read(seq, 100);
      for (let i = 0; i < starts.length; i++)
        read.push(bytes.subarray(starts[i], starts[i]! + sizes[i]!).toString());
      seq += starts.length;
    }
    expect(read).toEqual(expected);
  });

  it('deletes a segment once every record in it is acknowledged, and bounds disk use by what is in flight', async () => {
    const log = openLog({ segmentBytes: 2048 });
    for (let i = 0; i < 2000; i++) {
      const { lastSeq } = await log.append([record(i, 100)]);
      // The consumer keeps up to 50 records behind.
      if (lastSeq > 50) log.ack(lastSeq - 50);
    }
    // At most the in-flight records and one partly acknowledged segment, plus the one being written.
    expect(log.stats().bytes).toBeLessThanOrEqual(50 * 108 + 2 * 2048);
    expect(segments().length).toBeLessThanOrEqual(5);
  });

  it('read: from any position, across segments, while appends go on; what it returns is each record, in order (many seeds)', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = prng(seed);
      const log = DiskLog.open(join(dir, `s${seed}`), {
        segmentBytes: 512 + Math.floor(rand() * 2048),
        fsync: 'never',
      });
      try {
        const all: Buffer[] = [];
        let next = 1;
        let acked = 0;
        for (let round = 0; round < 60; round++) {
          const n = 1 + Math.floor(rand() * 9);
          // Now and then a record larger than the read's budget, or larger than a segment.
          const group = Array.from({ length: n }, (_, k) =>
            record(all.length + k, rand() < 0.05 ? 3000 : 8 + Math.floor(rand() * 200)),
          );
          await log.append(group);
          all.push(...group);
          // A reader catching up in reads of random sizes; now and then it jumps elsewhere.
          while (next <= all.length && rand() < 0.7) {
            if (rand() < 0.1) next = acked + 1 + Math.floor(rand() * (all.length - acked));
            const read = log.read(next, 1 + Math.floor(rand() * 1500));
            const got = read.starts.map((start, k) => read.bytes.subarray(start, start + read.sizes[k]!));
            expect(got.length).toBeGreaterThan(0);
            expect(got.map(String)).toEqual(all.slice(next - 1, next - 1 + got.length).map(String));
            next += got.length;
            if (rand() < 0.3) {
              acked = Math.max(acked, next - 1 - Math.floor(rand() * 5));
              log.ack(acked);
            }
          }
        }
        expect(() => log.read(acked, 100)).toThrow(RangeError);
        expect(() => log.read(all.length + 1, 100)).toThrow(RangeError);
      } finally {
        log.close();
      }
    }
  });

  it('group commit: appends made together share one fsync, and each resolves only after it', async () => {
    const log = openLog();
    const before = log.stats().fsyncs;
    const ranges = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append([record(i)])));
    expect(ranges.map((r) => r.firstSeq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(log.stats().fsyncs - before).toBe(1);
    await log.append([record(100)]);
    expect(log.stats().fsyncs - before).toBe(2);
  });

  it('a torn tail, cut at any byte offset of the last segment (many seeds): every whole record before it is replayed, nothing after, never a crash', async () => {
    const random = prng(5);
    for (let round = 0; round < 40; round++) {
      const sub = join(dir, `r${round}`);
      const log = DiskLog.open(sub, { segmentBytes: 4096 });
      const all = Array.from({ length: 60 }, (_, i) =>
        record(round * 1000 + i, 10 + Math.floor(random() * 120)),
      );
      for (const r of all) await log.append([r]);
      log.close();
      const files = readdirSync(sub)
        .filter((f) => f.endsWith('.seg'))
        .sort();
      const last = join(sub, files.at(-1)!);
      const size = statSync(last).size;
      const cut = Math.floor(random() * size);
      truncateSync(last, cut);
      const reopened = DiskLog.open(sub, { segmentBytes: 4096 });
      const replayed = [...reopened.replay()].map((r) => r.bytes.toString());
      // Records in earlier segments, then whole frames of the last one up to the cut.
      expect(replayed).toEqual(all.slice(0, replayed.length).map(String));
      const inEarlier = files.slice(0, -1).reduce((n, f) => n + countFrames(join(sub, f)), 0);
      expect(replayed.length).toBeGreaterThanOrEqual(inEarlier);
      expect(reopened.recovery.setAside).toEqual([]);
      expect(reopened.recovery.tornBytes).toBe(cut - statSync(last).size);
      // The log goes on from there.
      const { firstSeq } = await reopened.append([Buffer.from('after')]);
      expect(firstSeq).toBe(replayed.length + 1);
      reopened.close();
    }
  });

  it('a corrupt segment in the middle is set aside as .corrupt and reported, never silently skipped; the others replay', async () => {
    const log = openLog({ segmentBytes: 600 });
    for (let i = 0; i < 60; i++) await log.append([record(i, 40)]);
    crash(log);
    const files = segments();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const middle = join(dir, files[1]!);
    const firstOfMiddle = Number(files[1]!.slice(0, 20));
    // Flip a byte inside the first record's bytes.
    const bytes = readFileSync(middle);
    bytes[12] = (bytes[12] ?? 0) ^ 0xff;
    writeFileSync(middle, bytes);
    const again = openLog({ segmentBytes: 600 });
    expect(again.recovery.setAside).toEqual([
      { file: `${files[1]}.corrupt`, readableRecords: 0, error: 'a checksum mismatch at byte 0' },
    ]);
    expect(existsSync(`${middle}.corrupt`)).toBe(true);
    const replayed = texts(again);
    // The whole set-aside segment is not replayed; every other record is, in order.
    const lost = countFrames(`${middle}.corrupt`);
    expect(lost).toBeGreaterThan(0);
    expect(replayed).toEqual(
      Array.from({ length: 60 }, (_, i) => record(i, 40).toString()).filter(
        (_, i) => i < firstOfMiddle - 1 || i >= firstOfMiddle - 1 + lost,
      ),
    );
  });

  it('one process at a time: a running holder is named; a dead holder’s lock is taken over', () => {
    openLog();
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DiskLog } from ${JSON.stringify(new URL('../../dist/src/queue/disk-log.js', import.meta.url).href)};
         try { DiskLog.open(${JSON.stringify(dir)}); console.log('opened'); } catch (e) { console.log(e.code, e.pid, e.message); }`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.stdout.trim()).toBe(
      `SLUICE_QUEUE_LOCKED ${process.pid} queue directory ${dir} is held by process ${process.pid}, which is running`,
    );
    expect(() => DiskLog.open(dir)).toThrow(QueueLockedError);
    for (const log of open.splice(0)) log.close();
    // A process that died holding it: its pid no longer runs.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'lock'), dead.stdout.trim());
    const taken = openLog();
    expect(taken.recovery.staleLockPid).toBe(Number(dead.stdout.trim()));
  });

  it('processes starting together on a dead holder’s lock: exactly one takes it over, the others are refused (many rounds)', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const module = JSON.stringify(new URL('../../dist/src/queue/disk-log.js', import.meta.url).href);
    for (let round = 0; round < 10; round++) {
      const queue = join(dir, `q${round}`);
      mkdirSync(queue);
      writeFileSync(join(queue, 'lock'), dead.stdout.trim());
      // Each child spins until the same instant, then opens, and holds the log while the others try.
      const at = Date.now() + 600;
      const script = `import { DiskLog } from ${module};
        while (Date.now() < ${at}) {}
        try { const log = DiskLog.open(${JSON.stringify(queue)}); console.log('opened'); setTimeout(() => log.close(), 400); }
        catch (e) { console.log(e.code); }`;
      const outcomes = await Promise.all(
        Array.from(
          { length: 3 },
          () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
              let out = '';
              child.stdout.on('data', (chunk) => (out += chunk));
              child.on('exit', () => resolve(out.trim()));
            }),
        ),
      );
      expect(outcomes.sort(), `round ${round}`).toEqual([
        'SLUICE_QUEUE_LOCKED',
        'SLUICE_QUEUE_LOCKED',
        'opened',
      ]);
    }
  }, 60_000);

  it('a full disk: the append that fails part-way rejects, leaves nothing of itself, and the log goes on once there is room', async () => {
    let room = Number.POSITIVE_INFINITY;
    // Writes what fits in `room`, then fails as write(2) does on a full disk.
    const full = ((fd: number, buffer: Buffer, offset: number) => {
      const n = Math.min(buffer.length - offset, room);
      if (n === 0)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      room -= n;
      return writeSync(fd, buffer, offset, n);
    }) as typeof writeSync;
    const log = openLog({ writeSync: full });
    await log.append([record(1), record(2)]);
    room = 30;
    await expect(log.append([record(3), record(4)])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(log.stats()).toMatchObject({ lastSeq: 2, records: 2 });
    room = Number.POSITIVE_INFINITY;
    expect(await log.append([record(5)])).toEqual({ firstSeq: 3, lastSeq: 3 });
    crash(log);
    const again = openLog();
    // Nothing of the failed append: no torn bytes, no corruption, the others in order.
    expect(again.recovery).toMatchObject({ records: 3, tornBytes: 0, setAside: [] });
    expect(texts(again)).toEqual([record(1), record(2), record(5)].map(String));
  });

  it('a new segment that cannot be created rejects its append; later appends never touch the descriptor the log closed, which another file may have by then', async () => {
    let refuse = false;
    // Fails as open(2) does when the disk has no inode left.
    const open = ((path: string, flags: string) => {
      if (refuse)
        throw Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), { code: 'ENOSPC' });
      return openSync(path, flags);
    }) as typeof openSync;
    const log = openLog({ segmentBytes: 600, openSync: open });
    for (let i = 0; i < 12; i++) await log.append([record(i, 40)]);
    expect(segments().length).toBe(1);
    refuse = true;
    // Does not fit in the first segment: the next one cannot be created.
    await expect(log.append([record(12, 100)])).rejects.toMatchObject({ code: 'ENOSPC' });
    refuse = false;
    // Another file of this process opened meanwhile takes the lowest free descriptor: the one the log closed.
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'not the log\n');
    const fd = openSync(other, 'r+');
    try {
      // Small enough to fit in what is left of the first segment, and one that does not.
      expect(await log.append([record(13, 8)])).toEqual({ firstSeq: 13, lastSeq: 13 });
      expect(await log.append([record(14, 100)])).toEqual({ firstSeq: 14, lastSeq: 14 });
      expect(readFileSync(other, 'utf8')).toBe('not the log\n');
      expect(fstatSync(fd).ino).toBe(statSync(other).ino);
    } finally {
      closeSync(fd);
    }
    crash(log);
    const again = openLog({ segmentBytes: 600 });
    expect(again.recovery).toMatchObject({ records: 14, tornBytes: 0, setAside: [] });
    expect(texts(again)).toEqual(
      [...Array.from({ length: 12 }, (_, i) => record(i, 40)), record(13, 8), record(14, 100)].map(String),
    );
  });

  it('a position that cannot be written (a full disk; here a directory in the way) fails neither ack nor close: the next open replays from the older one', async () => {
    const log = openLog({ segmentBytes: 600 });
    for (let i = 0; i < 30; i++) await log.append([record(i, 40)]);
    mkdirSync(join(dir, 'acked.tmp'));
    expect(() => log.ack(20)).not.toThrow();
    expect(() => log.close()).not.toThrow();
    open.splice(open.indexOf(log), 1);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    const again = openLog({ segmentBytes: 600 });
    // Segments wholly acknowledged are gone; what is left is replayed, at least from record 21.
    const replayed = texts(again);
    expect(replayed.slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => record(20 + i, 40).toString()));
  });

  it('a full disk holding only acknowledged records: the next append takes their space, rather than failing for good', async () => {
    const disk = 2000;
    const used = () => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    // Writes what fits on a disk of `disk` bytes, then fails as write(2) does when it is full.
    const small = ((fd: number, buffer: Buffer, offset: number) => {
      const n = Math.min(buffer.length - offset, disk - used());
      if (n <= 0)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return writeSync(fd, buffer, offset, n);
    }) as typeof writeSync;
    const log = openLog({ writeSync: small, segmentBytes: 1024 * 1024 });
    let appended = 0;
    for (;;) {
      const ok = await log.append([record(appended + 1, 100)]).then(
        () => true,
        (error: unknown) => {
          expect(error).toMatchObject({ code: 'ENOSPC' });
          return false;
        },
      );
      if (!ok) break;
      appended++;
    }
    expect(appended).toBeGreaterThan(10);
    // The consumer read and acknowledged everything: one segment, all of it acknowledged.
    log.read(1, 100_000);
    log.ack(appended);
    expect(segments().length).toBe(1);
    expect(await log.append([record(1000, 100)])).toEqual({ firstSeq: appended + 1, lastSeq: appended + 1 });
    expect(await log.append([record(1001, 100)])).toEqual({ firstSeq: appended + 2, lastSeq: appended + 2 });
    expect(used()).toBeLessThan(disk);
    // No descriptor of this process keeps the deleted segment's blocks.
    if (existsSync('/proc/self/fd'))
      for (const fd of readdirSync('/proc/self/fd')) {
        const target = (() => {
          try {
            return readlinkSync(join('/proc/self/fd', fd));
          } catch {
            return '';
          }
        })();
        expect(target.startsWith(dir) && target.endsWith('(deleted)'), target).toBe(false);
      }
    crash(log);
    const again = openLog();
    expect(texts(again)).toEqual([record(1000, 100), record(1001, 100)].map(String));
  });

  it('a write cut short leaves no partial frame for the next append to land after', async () => {
    const log = openLog();
    await log.append([record(1)]);
    // A bad frame appended behind the log's back, as a write cut short would leave it…
    appendFileSync(join(dir, segments()[0]!), Buffer.from([5, 0, 0, 0, 1]));
    crash(log);
    const again = openLog();
    // …is a torn tail at open, cut off.
    expect(again.recovery.tornBytes).toBe(5);
    expect(texts(again)).toEqual([record(1).toString()]);
  });
});

/** Whole frames in a segment file, by their lengths (checksums not read). */
function countFrames(path: string): number {
  const data = readFileSync(path);
  let at = 0;
  let n = 0;
  while (at + 8 <= data.length) {
    const length = data.readUInt32LE(at);
    if (at + 8 + length > data.length) break;
    at += 8 + length;
    n++;
  }
  return n;
}
