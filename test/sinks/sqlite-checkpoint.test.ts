/**
 * The SQLite sink's checkpoints: with the pipeline's write lock, SQLite's automatic checkpoint (run
 * inside the committing transaction, so under the lock, through its fsyncs) is off, and the worker
 * whose write crosses CHECKPOINT_EVERY_BYTES copies the WAL into the database after releasing the
 * lock. The WAL stays bounded while two workers keep the lock busy.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import {
  CHECKPOINT_EVERY_BYTES,
  SqliteSink,
  WAL_FRAMES_BEFORE_RESTART,
} from '../../src/sinks/sqlite-sink.js';
import { writerLockBuffer } from '../../src/sinks/writer-lock.js';
import { readDeadLetters, useScenes } from '../helpers/engine.js';

/** ~1 KiB of payload text an event: 4 MiB of rows is ~4 000 events. */
const PAD = 'x'.repeat(1000);

function record(i: number): SinkRecord {
  return { id: `ev-${String(i).padStart(6, '0')}`, payload: { i, pad: PAD } };
}

function countIds(path: string, table: string): { rows: number; ids: number } {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM "${table}"`).get() as {
      rows: number;
      ids: number;
    };
  } finally {
    db.close();
  }
}

describe('SqliteSink checkpoints with a write lock', () => {
  const scene = useScenes();
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('turns the automatic checkpoint off and copies the WAL into the database with the lock free', async () => {
    const s = scene();
    const lock = writerLockBuffer();
    const lockWord = new Int32Array(lock);
    const calls: { pragma: string; lockHeld: boolean }[] = [];
    const pragma = Database.prototype.pragma;
    vi.spyOn(Database.prototype, 'pragma').mockImplementation(function (
      this: Database.Database,
      source,
      options,
    ) {
      calls.push({ pragma: source, lockHeld: Atomics.load(lockWord, 0) !== 0 });
      return pragma.call(this, source, options);
    });
    // Two sinks on one lock, as two workers hold them; their batches alternate.
    const spec = resolveSinkSpec({ type: 'sqlite', path: s.dbPath, table: 'events' });
    const sinks = [new SqliteSink(spec, lock), new SqliteSink(spec, lock)];
    for (const sink of sinks) await sink.open();
    const batches = 12;
    const perBatch = 500;
    try {
      for (let b = 0; b < batches; b++) {
        const records = Array.from({ length: perBatch }, (_, r) => record(b * perBatch + r));
        await sinks[b % 2]!.write(records);
      }
      // Both connections still open, so SQLite has not checkpointed on close: what the database
      // file holds was copied by the sink's own checkpoints (~6 MiB of rows written, 8 KiB of schema).
      expect(statSync(s.dbPath).size).toBeGreaterThan(CHECKPOINT_EVERY_BYTES);
    } finally {
      for (const sink of sinks) await sink.close();
    }
    expect(calls.filter((c) => c.pragma === 'wal_autocheckpoint = 0')).toHaveLength(2);
    const checkpoints = calls.filter((c) => c.pragma === 'wal_checkpoint(PASSIVE)');
    // 6 MiB of rows at a checkpoint every 4 MiB: one, taken with the lock free.
    expect(checkpoints).toEqual([{ pragma: 'wal_checkpoint(PASSIVE)', lockHeld: false }]);
    expect(countIds(s.dbPath, 'events')).toEqual({ rows: batches * perBatch, ids: batches * perBatch });
  });

  it('a checkpoint that fails fails no write: the batch is stored, and the next mark tries again', async () => {
    const s = scene();
    const lock = writerLockBuffer();
    let refusals = 0;
    let attempts = 0;
    const pragma = Database.prototype.pragma;
    vi.spyOn(Database.prototype, 'pragma').mockImplementation(function (
      this: Database.Database,
      source,
      options,
    ) {
      if (source === 'wal_checkpoint(PASSIVE)') {
        attempts++;
        // The first checkpoint meets a full disk; the second goes through.
        if (attempts === 1) {
          refusals++;
          throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        }
      }
      return pragma.call(this, source, options);
    });
    const sink = new SqliteSink(resolveSinkSpec({ type: 'sqlite', path: s.dbPath, table: 'events' }), lock);
    await sink.open();
    const perBatch = 500;
    const batches = 18;
    try {
      for (let b = 0; b < batches; b++) {
        // Every write resolves, the one whose checkpoint failed included.
        await expect(
          sink.write(Array.from({ length: perBatch }, (_, r) => record(b * perBatch + r))),
        ).resolves.toBeUndefined();
      }
      // ~9 MiB of rows: the mark passed twice; the second checkpoint copied what the first could not.
      expect({ refusals, attempts }).toEqual({ refusals: 1, attempts: 2 });
      expect(statSync(s.dbPath).size).toBeGreaterThan(2 * CHECKPOINT_EVERY_BYTES);
    } finally {
      await sink.close();
    }
    expect(countIds(s.dbPath, 'events')).toEqual({ rows: batches * perBatch, ids: batches * perBatch });
  });

  it('hostile lines through two workers, ~9 MiB (the checkpoint mark passed twice) and the file locked by another connection for a second: each good line stored once as its text, each bomb dead-lettered (several seeds)', async () => {
    let bomb = '0';
    for (let i = 0; i < 20_000; i++) bomb = `[${bomb}]`;
    const pad = 'p'.repeat(1500);
    // NUL, a lone surrogate, numbers past double precision: stored as the line's own text.
    const shapes = [
      (id: string) => `{"id":"${id}","s":"a\\u0000b","pad":"${pad}"}`,
      (id: string) => `{"id":"${id}","s":"x\\ud800y","pad":"${pad}"}`,
      (id: string) =>
        `{"id":"${id}","n":12345678901234567890123,"d":19.990000000000000001,"t":1e-400,"pad":"${pad}"}`,
      (id: string) => `{"id":"${id}","plain":true,"pad":"${pad}"}`,
    ];
    for (let seed = 1; seed <= 3; seed++) {
      const s = scene();
      const pipeline = await s.pipeline({
        workers: { min: 2, max: 2 },
        batch: { maxRecords: 250 },
        retry: { initialDelayMs: 5, maxDelayMs: 100 },
        sink: { type: 'sqlite', path: s.dbPath, table: 'events', busyTimeoutMs: 50 },
        log: { level: 'silent' },
        deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      });
      const stored = new Map<string, string>();
      const bombs = new Set<string>();
      const lines: string[] = [];
      for (let i = 0; i < 6000; i++) {
        const id = `s${seed}-${String(i).padStart(5, '0')}`;
        if ((i * 7 + seed) % 997 === 0) {
          lines.push(`{"id":"${id}","bomb":${bomb}}`);
          bombs.add(id);
          continue;
        }
        const line = shapes[(i * seed) % shapes.length]!(id);
        lines.push(line);
        stored.set(id, line);
      }
      const half = lines.length / 2;
      expect(await pipeline.pushRawMany(lines.slice(0, half))).toBe(half);
      // The file taken from under the workers for a second: their writes fail busy and are retried.
      const blocker = new Database(s.dbPath, { timeout: 5000 });
      blocker.exec('BEGIN EXCLUSIVE');
      const released = new Promise<void>((resolve) =>
        setTimeout(() => {
          blocker.exec('COMMIT');
          blocker.close();
          resolve();
        }, 1000),
      );
      expect(await pipeline.pushRawMany(lines.slice(half))).toBe(lines.length - half);
      await released;
      await pipeline.drained();
      await pipeline.close();

      const db = new Database(s.dbPath, { readonly: true });
      const rows = db.prepare('SELECT id, payload FROM events').all() as { id: string; payload: string }[];
      db.close();
      expect(rows.length).toBe(stored.size);
      expect(new Map(rows.map((r) => [r.id, r.payload]))).toEqual(stored);
      const letters = readDeadLetters(s.deadLetterPath);
      // A bomb is refused unread: its letter carries the line, not the id inside it.
      expect(letters.map((l) => l.letter.reason)).toEqual([...bombs].map(() => 'too-deep'));
      expect(new Set(letters.map((l) => (l.letter.event as { raw: string }).raw))).toEqual(
        new Set(lines.filter((line) => line.includes('"bomb"'))),
      );
    }
  }, 60_000);

  it('keeps the WAL bounded while two workers keep the lock busy, and stores every event once', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 400 },
      sink: { type: 'sqlite', path: s.dbPath, table: 'events' },
    });
    const wal = `${s.dbPath}-wal`;
    let largest = 0;
    const watch = setInterval(() => {
      try {
        largest = Math.max(largest, statSync(wal).size);
      } catch {
        // Not created yet.
      }
    }, 2);
    const total = 60_000;
    try {
      for (let from = 0; from < total; from += 1000) {
        const events = Array.from({ length: 1000 }, (_, i) => {
          const { id, payload } = record(from + i);
          return { id, payload };
        });
        expect(await pipeline.pushMany(events)).toBe(1000);
      }
      await pipeline.drained();
    } finally {
      clearInterval(watch);
    }
    largest = Math.max(largest, statSync(wal).size);
    // ~60 MiB of rows went through the WAL. It restarts once a checkpoint has copied past
    // WAL_FRAMES_BEFORE_RESTART frames; allow that, a checkpoint interval and a batch each side
    // (frames of a 4 KiB page and its 24-byte header).
    const frame = 4096 + 24;
    const bound = (WAL_FRAMES_BEFORE_RESTART * frame + 2 * CHECKPOINT_EVERY_BYTES) * 1.5;
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(bound);
    await pipeline.close();
    expect(countIds(s.dbPath, 'events')).toEqual({ rows: total, ids: total });
  });
});
