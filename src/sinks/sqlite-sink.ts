import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import { payloadJsonOf, type Sink } from './sink.js';
import { requireOpen, sinkFailure } from './sink-support.js';
import { WriterLock } from './writer-lock.js';

export interface SqliteSinkOptions {
  /** Database file; created with its directory if missing. */
  path: string;
  /** @default 'events' */
  table?: string;
  /**
   * SQLite `synchronous` in WAL mode: `normal` survives a process crash (an acknowledged batch is
   * in the WAL), `full` also survives a power loss at the cost of an fsync per batch.
   * @default 'normal'
   */
  synchronous?: 'normal' | 'full';
  /** How long a writer waits for another worker's write lock, ms. @default 10000 */
  busyTimeoutMs?: number;
}

export const DEFAULT_SQLITE_SINK_OPTIONS = {
  table: 'events',
  synchronous: 'normal',
  busyTimeoutMs: 10_000,
} as const satisfies Partial<SqliteSinkOptions>;

/** Every option given; only src/config/sinks/sqlite-sink-schema.ts makes these. */
export type ResolvedSqliteSinkOptions = Required<SqliteSinkOptions>;

/**
 * The embedded default: one connection per worker, WAL, every batch one IMMEDIATE transaction of
 * `INSERT … ON CONFLICT(id) DO NOTHING` — a batch written twice stores each event once.
 */
export class SqliteSink implements Sink {
  readonly idempotent = true;
  readonly #options: ResolvedSqliteSinkOptions;
  #db: Database.Database | undefined;
  #insertBatch: ((records: readonly SinkRecord[]) => number) | undefined;

  readonly #lock: WriterLock | undefined;

  /**
   * `options` as resolved on the main thread (the table name is a checked SQL identifier);
   * `writerLock`: shared by the pipeline's workers so their transactions queue instead of busy-polling.
   */
  constructor(options: ResolvedSqliteSinkOptions, writerLock?: SharedArrayBuffer) {
    this.#lock = writerLock ? new WriterLock(writerLock) : undefined;
    this.#options = options;
  }

  async open(): Promise<void> {
    const { path, table, synchronous, busyTimeoutMs } = this.#options;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    // Imported here, so the main thread (which reads the defaults above) and workers whose
    // pipeline uses another sink never load the native module.
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(path, { timeout: busyTimeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.exec(
      `CREATE TABLE IF NOT EXISTS "${table}" (
        id TEXT PRIMARY KEY,
        key TEXT,
        source TEXT,
        ts REAL,
        payload TEXT NOT NULL,
        written_at REAL NOT NULL
      )`,
    );
    const insert = db.prepare(
      `INSERT INTO "${table}" (id, key, source, ts, payload, written_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
    );
    const batch = db.transaction((records: readonly SinkRecord[]) => {
      const at = Date.now();
      let inserted = 0;
      for (const r of records) {
        inserted += insert.run(
          r.id,
          r.key ?? null,
          r.source ?? null,
          r.ts ?? null,
          payloadJsonOf(r),
          at,
        ).changes;
      }
      return inserted;
    });
    // IMMEDIATE takes the write lock up front, so two workers never deadlock upgrading a read lock.
    this.#insertBatch = (records) => batch.immediate(records);
    this.#db = db;
  }

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    const insert = requireOpen(this.#insertBatch, 'sqlite');
    try {
      if (this.#lock) await this.#lock.withLock(() => insert(records));
      else insert(records);
    } catch (error) {
      // A record whose payload cannot be serialised failed the transaction: already classified.
      if (error instanceof SinkError) throw error;
      const code = (error as { code?: string }).code ?? '';
      // Busy/locked/IO conditions pass; anything else (constraint, schema) will fail again.
      const retryable = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|PROTOCOL)/.test(code);
      // A value SQLite refuses belongs to its record: the rest of the batch can be written.
      const perRecord = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
      throw sinkFailure('sqlite', 'write failed', error, { retryable, perRecord });
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
  }
}
