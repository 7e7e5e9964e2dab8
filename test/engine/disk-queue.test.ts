/**
 * `queue.durability: 'disk'`: what a push resolved for survives a SIGKILL. A child process pushes
 * through a pipeline whose sink is slower than the pushes, printing each id once its push resolved;
 * it is killed mid-run, while the ring holds accepted events not yet written; started again on the
 * same directory, the pipeline replays them, and every id whose push resolved is in the sink
 * exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { DiskQueueFailedError, InvalidOptionError, QueueLockedError } from '../../src/errors.js';
import { createControl, FAILING } from '../fixtures/engine/control.js';
import { createRecordingTable } from '../fixtures/engine/recording-table.js';
import { fixtureUrl } from '../helpers/engine.js';

const CHILD = fileURLToPath(fixtureUrl('disk-queue-child'));
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-disk-queue-'));
  dirs.push(dir);
  return dir;
}

function stored(db: string, table = 'events'): string[] {
  const conn = new Database(db, { readonly: true });
  try {
    return (conn.prepare(`SELECT id FROM "${table}"`).all() as { id: string }[]).map((r) => r.id);
  } finally {
    conn.close();
  }
}

describe("queue.durability: 'disk'", () => {
  it.each([
    ['the main thread', 'push'],
    ['two producer threads', 'threads'],
  ])(
    'SIGKILL while pushing from %s: started again, every event whose push resolved is written once',
    async (_, mode) => {
      const dir = tempDir();
      const queue = join(dir, 'queue');
      const db = join(dir, 'out.db');
      const child = spawn(process.execPath, [CHILD, mode!, queue, db, '100000'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const accepted: string[] = [];
      let partial = '';
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString()).split('\n');
          partial = lines.pop()!;
          accepted.push(...lines);
          if (accepted.length >= 2000 && child.exitCode === null) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.once('exit', (code) =>
          code === null ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`)),
        );
      });
      await new Promise((resolve) =>
        child.exitCode === null && child.signalCode === null
          ? child.once('exit', resolve)
          : resolve(undefined),
      );
      const before = new Set(stored(db));
      // The kill came while accepted events were still waiting for the slow sink.
      expect(accepted.filter((id) => !before.has(id)).length).toBeGreaterThan(0);

      const again = spawn(process.execPath, [CHILD, 'recover', queue, db], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(again);
      let out = '';
      let err = '';
      again.stdout!.on('data', (chunk) => (out += chunk));
      again.stderr!.on('data', (chunk) => (err += chunk));
      const code = await new Promise((resolve) => again.once('exit', resolve));
      expect(code, err).toBe(0);
      const replayed = Number(/^replayed (\d+)$/m.exec(out)?.[1]);
      expect(replayed).toBeGreaterThan(0);
      const after = stored(db);
      // Every id whose push resolved is there, once; nothing else was pushed than e-0 … in order.
      expect(new Set(after).size).toBe(after.length);
      const missing = accepted.filter((id) => !after.includes(id));
      expect(missing).toEqual([]);
    },
    120_000,
  );

  it('hostile events through the log and back: replayed exactly as pushed, a refused push taking no place, counted by id', async () => {
    const dir = tempDir();
    const db = join(dir, 'sink.db');
    const table = 'rows';
    const setup = new Database(db);
    createRecordingTable(setup, table, false);
    setup.close();
    const control = createControl();
    // The sink is down for the whole first run: everything accepted stays in the ring and the log.
    Atomics.store(new Int32Array(control), FAILING, 1);
    const options = (sinkControl: SharedArrayBuffer) => ({
      queue: { durability: 'disk' as const, path: join(dir, 'q'), capacityBytes: 1 << 20 },
      workers: { min: 1, max: 1 },
      sink: {
        module: fixtureUrl('test-sink'),
        options: { path: db, table, unique: false, control: sinkControl },
      },
      deadLetter: { type: 'ndjson' as const, path: join(dir, 'dead.ndjson') },
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      log: { level: 'silent' as const },
    });
    const first = await createPipeline(options(control));
    const mutable = { v: 'as pushed' };
    const objects = [
      { id: 'o-nul', payload: { s: 'a\u0000b' } },
      { id: 'o-surrogate', payload: { s: 'x\uD800y' } },
      { id: 'o-mutated', payload: mutable },
    ];
    const pushed = first.pushMany(objects);
    mutable.v = 'changed after the call';
    expect(await pushed).toBe(3);
    // Refused at the call (a lone surrogate in an id): nothing of it in the ring or the log.
    await expect(first.push({ id: 'bad-\uD800', payload: {} })).rejects.toMatchObject({
      code: 'SLUICE_INVALID_EVENT',
    });
    const deep = `{"id":"r-deep","a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const lines = [
      '{"id":"r-big","n":12345678901234567890123,"d":19.990000000000000001,"t":1e-400}',
      '{"id":"r-nul","s":"a\\u0000b"}',
      deep,
      ...Array.from({ length: 500 }, (_, i) => `{"id":"fill-${i}","i":${i}}`),
    ];
    expect(await first.pushRawMany(lines)).toBe(lines.length);
    await expect(first.close({ timeoutMs: 500 })).rejects.toMatchObject({ code: 'SLUICE_SHUTDOWN_TIMEOUT' });
    expect(stored(db, table)).toEqual([]);

    const second = await createPipeline(options(createControl()));
    await second.drained();
    await second.close();
    const rows = new Database(db, { readonly: true }).prepare(`SELECT id, payload FROM "${table}"`).all() as {
      id: string;
      payload: string;
    }[];
    const ids = rows.map((r) => r.id);
    const expected = [
      ...objects.map((o) => o.id),
      'r-big',
      'r-nul',
      ...lines.slice(3).map((l) => JSON.parse(l).id),
    ];
    // Each once (no unique index: a second write would be a second row), the deep one dead-lettered.
    expect(ids.sort()).toEqual(expected.sort());
    const byId = new Map(rows.map((r) => [r.id, r.payload]));
    expect(JSON.parse(byId.get('o-mutated')!)).toEqual({ v: 'as pushed' });
    expect(JSON.parse(byId.get('o-nul')!)).toEqual({ s: 'a\u0000b' });
    expect(JSON.parse(byId.get('o-surrogate')!)).toEqual({ s: 'x\uD800y' });
    expect(byId.get('r-big')).toBe(lines[0]);
    const letters = readFileSync(join(dir, 'dead.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // Too deep to read its own id: dead-lettered under the id it got at the push, kept in the log.
    expect(letters.map((l) => l.payload.reason)).toEqual(['too-deep']);
    expect(letters[0].payload.event.raw).toBe(deep);
  });

  it('one process at a time: a second pipeline on the same directory is refused, naming the holder', async () => {
    const dir = tempDir();
    const options = {
      queue: { durability: 'disk' as const, path: join(dir, 'q') },
      sink: { type: 'null' as const },
      deadLetter: { type: 'null' as const },
    };
    const first = await createPipeline(options);
    try {
      const error = await createPipeline(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueLockedError);
      expect((error as QueueLockedError).message).toContain(`held by process ${process.pid}`);
    } finally {
      await first.close();
    }
    // Closed, it can be opened again.
    const second = await createPipeline(options);
    await second.close();
  });

  it('a path that cannot be a directory of the log is refused as queue.path, quoting it and saying why — not a crash', async () => {
    const dir = tempDir();
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    for (const [path, why] of [
      [file, 'EEXIST'],
      [join(file, 'q'), 'ENOTDIR'],
    ] as const) {
      const error = await createPipeline({
        queue: { durability: 'disk', path },
        sink: { type: 'null' },
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^queue\\.path must be a directory this process can create and write in \\(${why}: .*\\), got ${JSON.stringify(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        ),
      );
    }
    // A directory without write permission is the same; root is never refused one.
    if (process.getuid?.() !== 0) {
      const readOnly = join(dir, 'read-only');
      mkdirSync(readOnly, { mode: 0o555 });
      const error = await createPipeline({
        queue: { durability: 'disk', path: readOnly },
        sink: { type: 'null' },
      }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(
        /^queue\.path must be a directory this process can create and write in \(EACCES: /,
      );
    }
  });

  it('a push the log cannot write (a full disk) rejects with a Sluice code naming the directory and the cause', async ({
    skip,
  }) => {
    // /dev/full answers every write with ENOSPC: the log's first segment, linked to it before the
    // first push makes it, is a disk that is full. Linux has it; elsewhere the case says why it
    // does not run.
    if (!existsSync('/dev/full')) {
      console.log('skipped: no /dev/full on this system to stand for a full disk');
      skip();
    }
    const dir = tempDir();
    const path = join(dir, 'q');
    const pipeline = await createPipeline({
      queue: { durability: 'disk', path },
      sink: { type: 'null' },
      deadLetter: { type: 'null' },
    });
    try {
      symlinkSync('/dev/full', join(path, `${'1'.padStart(20, '0')}.seg`));
      const error = await pipeline.push({ id: 'full-1', payload: { n: 1 } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DiskQueueFailedError);
      expect(error).toMatchObject({ code: 'SLUICE_DISK_QUEUE_FAILED', cause: { code: 'ENOSPC' } });
      expect((error as Error).message).toBe(
        `the disk queue could not write the push to ${path}: ENOSPC: no space left on device, write`,
      );
      expect(pipeline.stats().written).toBe(0);
    } finally {
      await pipeline.close({ timeoutMs: 5000 });
    }
  });

  it('refuses options the log cannot keep, naming each and its value', async () => {
    const error = await createPipeline({
      queue: { durability: 'disk', partitions: 2, policy: 'drop-oldest', maxDiskBytes: 1000 },
      sink: { type: 'null' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    const message = (error as Error).message;
    expect(message).toContain('queue.path must be given with durability: disk');
    expect(message).toContain('queue.partitions must be 1 with durability: disk, got 2');
    expect(message).toMatch(
      /queue\.policy must be 'block', 'reject' or 'drop-newest' with durability: disk .*got "drop-oldest"/,
    );
    expect(message).toMatch(/queue\.maxDiskBytes must be an integer number of bytes ≥ 65536, got 1000/);
  });
});
