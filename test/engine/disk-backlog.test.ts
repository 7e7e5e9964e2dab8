/**
 * The disk queue holds more than the ring: with the sink down, pushes keep being accepted (durable
 * in the log) while the ring stays full, up to `maxDiskBytes`; past it the full policy applies.
 * When the sink returns — or in the next process — everything accepted is written once.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { InvalidOptionError } from '../../src/errors.js';
import { DiskLog } from '../../src/queue/disk-log.js';
import type { FullPolicy } from '../../src/queue/queue-options.js';
import { createControl, FAILING, WRITES_FAILED } from '../fixtures/engine/control.js';
import { createRecordingTable } from '../fixtures/engine/recording-table.js';
import { fixtureUrl, readDeadLetters, waitForWord, watch } from '../helpers/engine.js';

const dirs: string[] = [];
const pipelines: Pipeline[] = [];
afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close({ timeoutMs: 200 }).catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const RING = 64 * 1024;

function setup(policy: FullPolicy = 'block', maxDiskBytes?: number, capacityBytes = RING) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-disk-backlog-'));
  dirs.push(dir);
  const db = join(dir, 'sink.db');
  const table = 'rows';
  const conn = new Database(db);
  // No unique index: a second write of an id would be a second row.
  createRecordingTable(conn, table, false);
  conn.close();
  const options = (control: SharedArrayBuffer) => ({
    queue: {
      durability: 'disk' as const,
      path: join(dir, 'q'),
      capacityBytes,
      policy,
      ...(maxDiskBytes === undefined ? {} : { maxDiskBytes }),
    },
    workers: { min: 1, max: 1 },
    sink: { module: fixtureUrl('test-sink'), options: { path: db, table, unique: false, control } },
    deadLetter: { type: 'ndjson' as const, path: join(dir, 'dead.ndjson') },
    retry: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 1_000_000 },
    log: { level: 'silent' as const },
  });
  const ids = (): string[] =>
    (new Database(db, { readonly: true }).prepare(`SELECT id FROM "${table}"`).all() as { id: string }[]).map(
      (r) => r.id,
    );
  return { dir, options, ids };
}

async function start(options: Parameters<typeof createPipeline>[0]): Promise<Pipeline> {
  const p = await createPipeline(options);
  pipelines.push(p);
  return p;
}

const group = (from: number, n: number): SluiceEvent[] =>
  Array.from({ length: n }, (_, k) => ({
    id: `e-${from + k}`,
    payload: { i: from + k, pad: 'x'.repeat(80) },
  }));

/** Waits until the sink has failed `n` more writes: the pipeline kept running meanwhile. */
async function sinkFailures(control: SharedArrayBuffer, n: number): Promise<void> {
  const words = new Int32Array(control);
  const target = Atomics.load(words, WRITES_FAILED) + n;
  await waitForWord(words, WRITES_FAILED, (failed) => failed >= target, `${n} more failed writes`);
}

describe('disk queue: a backlog beyond the ring', () => {
  it('sink down: pushes keep resolving while the ring is full, the backlog is on disk, and everything is written once when the sink returns', async () => {
    const { options, ids } = setup();
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    const n = 20_000;
    for (let i = 0; i < n; i += 100) expect(await p.pushMany(group(i, 100))).toBe(100);
    const stats = p.stats();
    // ~2.6 MB accepted against a 64 KiB ring: the ring is full, the rest waits on disk.
    expect(stats.queue.depthBytes).toBeLessThanOrEqual(RING);
    expect(stats.disk!.backlogRecords).toBeGreaterThan(n - RING / 64);
    expect(stats.disk!.backlogBytes).toBeGreaterThan(20 * RING);
    expect(stats.disk!.records).toBe(n);
    expect(ids()).toEqual([]);
    Atomics.store(new Int32Array(control), FAILING, 0);
    await p.drained();
    const stored = ids();
    expect(stored.length).toBe(n);
    expect(new Set(stored)).toEqual(new Set(group(0, n).map((e) => e.id)));
    expect(p.stats().disk!.backlogRecords).toBe(0);
    await p.close();
  }, 60_000);

  it('a backlog beyond the memory window (64 MiB) is read back from the log as the sink catches up, each event once, in order', async () => {
    const { options, ids } = setup();
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    const n = 170_000;
    const pad = 'y'.repeat(400);
    for (let i = 0; i < n; i += 1_000)
      await p.pushMany(Array.from({ length: 1_000 }, (_, k) => ({ id: `e-${i + k}`, payload: { pad } })));
    // ~78 MB accepted: more than memory keeps; the oldest wait only on disk.
    expect(p.stats().disk!.backlogBytes).toBeGreaterThan(64 * 1024 * 1024);
    Atomics.store(new Int32Array(control), FAILING, 0);
    await p.drained();
    expect(ids()).toEqual(Array.from({ length: n }, (_, i) => `e-${i}`));
    await p.close();
  }, 120_000);

  it('a backlog larger than the ring survives a restart: replayed from several segments, in order, each event once', async () => {
    const { options, ids } = setup('block', 1024 * 1024);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const first = await start(options(control));
    const n = 6_000;
    for (let i = 0; i < n; i += 50) await first.pushMany(group(i, 50));
    // The close gives up on the sink; the ring's share and the backlog stay in the log.
    const error = await first.close({ timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SLUICE_SHUTDOWN_TIMEOUT', pendingEvents: n });
    pipelines.splice(pipelines.indexOf(first), 1);
    expect(ids()).toEqual([]);

    const second = await start(options(createControl()));
    expect(second.stats().disk!.replayed).toBe(n);
    await second.drained();
    const stored = ids();
    expect(stored).toEqual(group(0, n).map((e) => e.id));
    await second.close();
  }, 60_000);

  it('a corrupt segment in the middle of a backlog is set aside: every event of the other segments is written once, in order, and pushes go on', async () => {
    const { dir, options, ids } = setup('block', 1024 * 1024);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const first = await start(options(control));
    const n = 6_000;
    for (let i = 0; i < n; i += 50) await first.pushMany(group(i, 50));
    await first.close({ timeoutMs: 300 }).catch(() => undefined);
    pipelines.splice(pipelines.indexOf(first), 1);
    const files = readdirSync(join(dir, 'q'))
      .filter((f) => f.endsWith('.seg'))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    // A flipped byte in the first record of the second segment: its events are lost, and said.
    const middle = join(dir, 'q', files[1]!);
    const bytes = readFileSync(middle);
    bytes[20] = bytes[20]! ^ 0xff;
    writeFileSync(middle, bytes);
    const lostFrom = Number(files[1]!.slice(0, 20)) - 1;
    const lostTo = Number(files[2]!.slice(0, 20)) - 1;
    const kept = group(0, n)
      .map((e) => e.id)
      .filter((_, i) => i < lostFrom || i >= lostTo);

    const second = await start(options(createControl()));
    expect(second.stats().disk!.replayed).toBe(kept.length);
    await second.drained();
    await second.push({ id: 'after', payload: {} });
    await second.drained();
    expect(ids()).toEqual([...kept, 'after']);
    expect(second.stats().disk).toMatchObject({ backlogRecords: 0 });
    await second.close();
    pipelines.splice(pipelines.indexOf(second), 1);
    // Acknowledged past the gap: nothing is replayed again.
    const third = await start(options(createControl()));
    expect(third.stats().disk!.replayed).toBe(0);
    await third.close();
  }, 60_000);

  it('started again with a ring too small for a record in its log: refused at once, naming queue.capacityBytes and the size needed; started with it, every event is written once', async () => {
    const { dir, options, ids } = setup('block', undefined, 1024 * 1024);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const first = await start(options(control));
    const events = [group(0, 1)[0]!, { id: 'big', payload: { pad: 'x'.repeat(200_000) } }, group(1, 1)[0]!];
    expect(await first.pushMany(events)).toBe(3);
    await first.close({ timeoutMs: 200 }).catch(() => undefined);
    pipelines.splice(pipelines.indexOf(first), 1);

    const small = { ...options(createControl()), queue: { ...options(control).queue, capacityBytes: RING } };
    const error = await createPipeline(small).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^queue\\.capacityBytes must be at least 1048576 to replay the log in ${join(dir, 'q').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(a record there takes \\d+ bytes; .*\\), got 65536$`,
      ),
    );
    // The lock was given back: the same directory opens with a ring large enough.
    const second = await start(options(createControl()));
    expect(second.stats().disk!.replayed).toBe(3);
    await second.drained();
    expect(ids()).toEqual(events.map((e) => e.id));
    await second.close();
  }, 60_000);

  it('a log holding records in the older JSON form, then images, is replayed in order, each once', async () => {
    const { dir, options, ids } = setup();
    const log = DiskLog.open(join(dir, 'q'));
    const legacyEvent = Buffer.from(`e${JSON.stringify({ id: 'old-event', payload: { n: 42 } })}`);
    const legacyRaw = Buffer.from(`r${JSON.stringify({ id: 'old-raw' })}\n{"n":1}`);
    await log.append([legacyEvent, legacyRaw]);
    log.close();
    const first = await start(options(createControl()));
    await first.drained();
    await first.push({ id: 'new-event', payload: {} });
    await first.drained();
    expect(first.stats().disk!.replayed).toBe(2);
    expect(ids()).toEqual(['old-event', 'old-raw', 'new-event']);
    await first.close();
  }, 60_000);

  it('a record in the log that is neither an image nor the older form is dead-lettered with its bytes; the ones around it are written, and pushes go on', async () => {
    const { dir, options, ids } = setup();
    const log = DiskLog.open(join(dir, 'q'));
    const before = Buffer.from(`e${JSON.stringify({ id: 'before', payload: {} })}`);
    // Whole and checksummed, yet nobody's record: garbage, NUL, a byte that is not UTF-8; and an
    // older-form record whose JSON is cut.
    const garbage = Buffer.from([0x78, 0x00, 0xff, 0x7b, 0x22]);
    const cut = Buffer.from('e{"id":"cut","payl');
    const after = Buffer.from(`e${JSON.stringify({ id: 'after', payload: {} })}`);
    await log.append([before, garbage, cut, after]);
    log.close();
    const p = await start(options(createControl()));
    await p.drained();
    await p.push({ id: 'new-event', payload: {} });
    await p.drained();
    expect(ids()).toEqual(['before', 'after', 'new-event']);
    const letters = readDeadLetters(join(dir, 'dead.ndjson'));
    expect(letters.map((l) => l.id)).toEqual(['disk-queue-unreadable-2', 'disk-queue-unreadable-3']);
    expect(letters[1]!.letter.event.raw).toBe('e{"id":"cut","payl');
    await p.close();
  }, 60_000);

  it("liveStats() carries the log's figures: its backlog against maxDiskBytes, fsyncs, and what was replayed at start", async () => {
    const max = 4 * 1024 * 1024;
    const { options } = setup('block', max);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const first = await start(options(control));
    const n = 3_000;
    for (let i = 0; i < n; i += 100) await first.pushMany(group(i, 100));
    await sinkFailures(control, 1);
    // The sink fails every write: nothing is acknowledged, and the backlog stays where it is.
    const live = first.liveStats().disk!;
    const disk = first.stats().disk!;
    expect(live).toEqual({
      bytes: disk.bytes,
      events: n,
      backlogEvents: disk.backlogRecords,
      backlogBytes: disk.backlogBytes,
      maxDiskBytes: max,
      fsync: 'group',
      fsyncs: disk.fsyncs,
      fsyncSeconds: expect.any(Number),
      replayed: 0,
    });
    expect(live.backlogEvents).toBeGreaterThan(n - RING / 64);
    expect(live.backlogBytes).toBeGreaterThan(0);
    expect(live.fsyncs).toBeGreaterThan(0);
    expect(live.fsyncSeconds).toBeGreaterThan(0);
    await first.close({ timeoutMs: 300 }).catch(() => undefined);
    pipelines.splice(pipelines.indexOf(first), 1);

    const second = await start(options(createControl()));
    expect(second.liveStats().disk!.replayed).toBe(n);
    await second.drained();
    expect(second.liveStats().disk).toMatchObject({
      backlogEvents: 0,
      backlogBytes: 0,
      replayed: n,
    });
    await second.close();
  }, 60_000);

  it('liveStats() has no disk figures for a queue in memory', async () => {
    const p = await start({ sink: { type: 'null' }, workers: { min: 1, max: 1 }, log: { level: 'silent' } });
    await p.pushMany(group(0, 10));
    await p.drained();
    expect(p.liveStats().written).toBe(10);
    expect(p.liveStats()).not.toHaveProperty('disk');
  });

  it("maxDiskBytes with policy 'reject': past it pushes fail with SLUICE_QUEUE_FULL; what was accepted is all written, nothing refused is", async () => {
    const max = 256 * 1024;
    const { options, ids } = setup('reject', max);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    const accepted: string[] = [];
    const refused: string[] = [];
    for (let i = 0; i < 10_000; i += 100) {
      const events = group(i, 100);
      try {
        expect(await p.pushMany(events)).toBe(100);
        accepted.push(...events.map((e) => e.id!));
      } catch (error) {
        expect(error).toMatchObject({ code: 'SLUICE_QUEUE_FULL' });
        refused.push(...events.map((e) => e.id!));
      }
    }
    expect(refused.length).toBeGreaterThan(0);
    expect(p.stats().disk!.backlogBytes).toBeLessThanOrEqual(max);
    expect(p.stats().queue.rejected).toBe(refused.length);
    Atomics.store(new Int32Array(control), FAILING, 0);
    await p.drained();
    expect(ids().sort()).toEqual(accepted.sort());
    await p.close();
  }, 60_000);

  it("maxDiskBytes with policy 'block': a push past it waits while the sink is down, and resolves once the backlog drains", async () => {
    const max = 128 * 1024;
    const { options, ids } = setup('block', max);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    let i = 0;
    // Fill the backlog up to its bound.
    while (p.stats().disk!.backlogBytes + 100 * 200 <= max) {
      await p.pushMany(group(i, 100));
      i += 100;
    }
    const waiting = p.pushMany(group(i, 2_000));
    const watched = watch(waiting);
    // A later push queues behind it: call order is kept.
    const later = p.push({ id: 'last', payload: {} });
    // The sink fails 20 more writes meanwhile: the push is still waiting for room.
    await sinkFailures(control, 20);
    expect(watched.settled).toBe(false);
    Atomics.store(new Int32Array(control), FAILING, 0);
    expect(await waiting).toBe(2_000);
    expect(await later).toBe(true);
    await p.drained();
    const stored = ids();
    expect(stored.length).toBe(i + 2_001);
    expect(stored.at(-1)).toBe('last');
    await p.close();
  }, 60_000);

  it("maxDiskBytes with policy 'drop-newest': past it pushes return 0, counted as dropped", async () => {
    const max = 128 * 1024;
    const { options, ids } = setup('drop-newest', max);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    let accepted = 0;
    let dropped = 0;
    for (let i = 0; i < 5_000; i += 100) {
      const n = await p.pushMany(group(i, 100));
      if (n === 100) accepted += n;
      else {
        expect(n).toBe(0);
        dropped += 100;
      }
    }
    expect(dropped).toBeGreaterThan(0);
    expect(p.stats().queue.droppedNewest).toBe(dropped);
    Atomics.store(new Int32Array(control), FAILING, 0);
    await p.drained();
    expect(ids().length).toBe(accepted);
    await p.close();
  }, 60_000);

  it('hostile events from a producer thread go through the log and the backlog exactly: NUL, a lone surrogate, integers beyond 2^53, 1e-400, 20 000 nested arrays dead-lettered, a refused push taking no place', async () => {
    // A 256 KiB ring: records up to 64 KiB, the deep line's 40 KB among them.
    const { dir, options } = setup('block', undefined, 256 * 1024);
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    const sent = await new Promise<{ refused?: string }>((resolve, reject) => {
      const worker = new Worker(fixtureUrl('disk-hostile-producer'), {
        workerData: { handle: p.producerHandle },
      });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(sent.refused).toBe('SLUICE_INVALID_EVENT');
    // The sink was down all along: everything waited in the log.
    expect(p.stats().disk!.records).toBe(5);
    Atomics.store(new Int32Array(control), FAILING, 0);
    await p.drained();
    const rows = new Map(
      (
        new Database(join(dir, 'sink.db'), { readonly: true })
          .prepare('SELECT id, payload FROM rows')
          .all() as {
          id: string;
          payload: string;
        }[]
      ).map((r) => [r.id, r.payload]),
    );
    expect([...rows.keys()].sort()).toEqual(['t-big', 't-nul', 't-nul-raw', 't-surrogate']);
    expect(rows.get('t-big')).toBe(
      '{"id":"t-big","n":12345678901234567890123,"d":19.990000000000000001,"t":1e-400}',
    );
    expect(JSON.parse(rows.get('t-nul')!)).toEqual({ s: 'a\u0000b' });
    expect(JSON.parse(rows.get('t-surrogate')!)).toEqual({ s: 'x\uD800y' });
    const letters = readDeadLetters(join(dir, 'dead.ndjson'));
    // Too deep to read its own id: dead-lettered under the id it got at the push, its line kept whole.
    expect(letters.map((l) => l.letter.reason)).toEqual(['too-deep']);
    expect(letters[0]!.letter.event.raw).toBe(
      `{"id":"t-deep","a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    );
    await p.close();
  }, 60_000);

  it('producers come and go without end: 600 connected one after the other from two threads, every event written once', async () => {
    const { options, ids } = setup();
    const p = await start(options(createControl()));
    const run = (prefix: string) =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(fixtureUrl('disk-many-producers'), {
          workerData: { handle: p.producerHandle, prefix, count: 300 },
        });
        worker.once('message', (m: { accepted: number }) => resolve(m.accepted));
        worker.once('error', reject);
      });
    expect(await Promise.all([run('x'), run('y')])).toEqual([300, 300]);
    await p.drained();
    const stored = ids();
    expect(stored.length).toBe(600);
    expect(new Set(stored).size).toBe(600);
    await p.close();
  }, 60_000);

  it('producer threads push through the main thread’s log: every accepted event written once, past the ring, and pushes after close fail as closed', async () => {
    const { options, ids } = setup();
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const p = await start(options(control));
    const run = (prefix: string, mode: 'single' | 'many') =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(fixtureUrl('producer-thread'), {
          workerData: { handle: p.producerHandle, prefix, count: 3_000, mode, chunk: 64 },
        });
        worker.once('message', (m: { accepted: number }) => resolve(m.accepted));
        worker.once('error', reject);
      });
    // The sink is down all along: 6 000 events of ~70 bytes do not fit in the ring.
    expect(await Promise.all([run('a', 'single'), run('b', 'many')])).toEqual([3_000, 3_000]);
    expect(p.stats().disk!.backlogRecords).toBeGreaterThan(0);
    Atomics.store(new Int32Array(control), FAILING, 0);
    await p.drained();
    const stored = ids();
    expect(stored.length).toBe(6_000);
    expect(new Set(stored).size).toBe(6_000);
    const handle = p.producerHandle;
    await p.close();
    pipelines.splice(pipelines.indexOf(p), 1);
    const late = await new Promise<{ accepted?: number; error?: string }>((resolve) => {
      const worker = new Worker(fixtureUrl('producer-thread'), {
        workerData: { handle, prefix: 'late', count: 1, mode: 'single', chunk: 1 },
      });
      worker.once('message', (m: { accepted: number }) => resolve(m));
      worker.once('error', (e: Error & { code?: string }) => resolve({ error: e.code }));
    });
    expect(late).toEqual({ error: 'SLUICE_CLOSED' });
  }, 60_000);
});
