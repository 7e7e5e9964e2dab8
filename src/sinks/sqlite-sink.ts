import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import { ColumnExtractor, type ColumnMap, type OnConflict } from './column-mapping.js';
import { payloadJsonOf, type Sink } from './sink.js';
import { requireOpen, sinkFailure } from './sink-support.js';
import { type BatchWritten, prepareBatchInsert, type RowInsert } from './sqlite-batch-insert.js';
import { mappedRowInsert } from './sqlite-mapped-table.js';
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
  /**
   * Write into the user's own `table` (which must exist, with these columns): each column's value
   * read from the event at its path (`id`, `key`, `source`, `ts`, `payload`, `payload.a.b`).
   * Without it, the sink writes the envelope table it creates.
   */
  columns?: ColumnMap;
  /**
   * With `columns`: the PRIMARY KEY or UNIQUE index columns a row meets an existing row on, and
   * whether it then leaves it (`nothing`) or updates its other mapped columns (`update`).
   * @default { target: [the column mapped from id], action: 'nothing' }
   */
  onConflict?: OnConflict;
}

/**
 * Bytes the workers write between two checkpoints: SQLite's own default is a checkpoint whenever
 * the WAL passes 1000 pages (4 MiB at the default page size) — about this much row data once the
 * primary key's index and the pages' free space are counted.
 */
export const CHECKPOINT_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * WAL frames past which a checkpoint taken outside the write lock is finished under it. The WAL is
 * reused from its start only by a writer that begins when every frame has been copied into the
 * database; a checkpoint taken beside another worker's transaction leaves that transaction's frames,
 * so with writers always queued the WAL would only grow. Past this many (16 MiB at 4 KiB pages), the
 * checkpointing worker copies the rest while holding the lock, and the next writer starts the WAL
 * over.
 */
export const WAL_FRAMES_BEFORE_RESTART = 4096;

export const DEFAULT_SQLITE_SINK_OPTIONS = {
  table: 'events',
  synchronous: 'normal',
  busyTimeoutMs: 10_000,
} as const satisfies Partial<SqliteSinkOptions>;

/**
 * Every option given (`onConflict` resolved whenever `columns` is); only
 * src/config/sinks/sqlite-sink-schema.ts makes these.
 */
export type ResolvedSqliteSinkOptions = Required<Omit<SqliteSinkOptions, 'columns' | 'onConflict'>> &
  ({ columns?: undefined; onConflict?: undefined } | { columns: ColumnMap; onConflict: OnConflict });

/**
 * The embedded default: one connection per worker, WAL, every batch one IMMEDIATE transaction of
 * multi-row `INSERT … ON CONFLICT(id) DO NOTHING` (sqlite-batch-insert.ts) — a batch written twice
 * stores each event once. With the pipeline's write lock, SQLite's automatic checkpoint is off: it
 * would run inside the committing transaction, holding the lock while it waits for its fsyncs
 * (where `perf` found the writers of `npm start`'s scenario blocked); the worker that crosses
 * CHECKPOINT_EVERY_BYTES takes it after releasing the lock, while the next worker writes. With
 * `columns`, the rows go to the user's table, `ON CONFLICT (target) DO NOTHING | DO UPDATE`, in
 * batch order (a later correction of a key wins), so a batch written twice still ends the same.
 */
export class SqliteSink implements Sink {
  readonly idempotent = true;
  readonly #options: ResolvedSqliteSinkOptions;
  #db: Database.Database | undefined;
  #insertBatch: ((records: readonly SinkRecord[]) => BatchWritten) | undefined;

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
    const { path, table, synchronous, busyTimeoutMs, columns, onConflict } = this.#options;
    // A mapped table is the user's: its database must be there already.
    if (path !== ':memory:' && !columns) mkdirSync(dirname(path), { recursive: true });
    // Imported here, so the main thread (which reads the defaults above) and workers whose
    // pipeline uses another sink never load the native module.
    const { default: Sqlite } = await import('better-sqlite3');
    let db: Database.Database;
    try {
      db = new Sqlite(path, { timeout: busyTimeoutMs, fileMustExist: columns !== undefined });
    } catch (error) {
      if (columns === undefined) throw error;
      throw sinkFailure('sqlite', `cannot open ${path}`, error, { retryable: false });
    }
    let insert: (records: readonly SinkRecord[], at: number) => BatchWritten;
    try {
      // A mapped table is checked before the pragmas, so one that is not there leaves the file as it was.
      const mapped =
        columns && mappedRowInsert(db, path, table, columns, onConflict, new ColumnExtractor(columns));
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      // The checkpoints are this sink's, taken after the write lock is released (#checkpoint).
      if (this.#lock) db.pragma('wal_autocheckpoint = 0');
      insert = prepareBatchInsert(db, mapped || envelopeRowInsert(db, table));
    } catch (error) {
      db.close();
      throw error;
    }
    const batch = db.transaction((records: readonly SinkRecord[]) => insert(records, Date.now()));
    // IMMEDIATE takes the write lock up front, so two workers never deadlock upgrading a read lock.
    this.#insertBatch = (records) => batch.immediate(records);
    this.#db = db;
  }

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    const insert = requireOpen(this.#insertBatch, 'sqlite');
    let written: BatchWritten;
    try {
      written = this.#lock ? await this.#lock.withLock(() => insert(records)) : insert(records);
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
    if (this.#lock?.noteWritten(written.bytes, CHECKPOINT_EVERY_BYTES)) await this.#checkpoint(this.#lock);
    return undefined;
  }

  /**
   * Copies the WAL into the database. PASSIVE neither waits for nor blocks the other workers'
   * transactions, so they go on appending to the WAL while this thread waits for the fsyncs; frames
   * committed meanwhile stay for a later checkpoint. Like SQLite's automatic checkpoint, a failure
   * is left for the next one to retry: the batch is committed, and failing its write would only
   * retry what is stored.
   */
  async #checkpoint(lock: WriterLock): Promise<void> {
    const db = this.#db;
    if (db === undefined) return;
    try {
      const [state] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number }[];
      if (state === undefined || state.busy !== 0 || state.log < WAL_FRAMES_BEFORE_RESTART) return;
      // Under the lock no transaction adds frames, so this copies every one that is left (those
      // committed during the first pass) and the next writer starts the WAL over.
      await lock.withLock(() => {
        if (this.#db === db) db.pragma('wal_checkpoint(PASSIVE)');
      });
    } catch {
      // Left for the next checkpoint, as SQLite leaves a failed automatic one.
    }
  }

  async close(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
  }
}

/** The envelope table, created if missing, and its row: one per event, conflicting on id. */
function envelopeRowInsert(db: Database.Database, table: string): RowInsert {
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
  return {
    head: `INSERT INTO "${table}" (id, key, source, ts, payload, written_at)`,
    tail: 'ON CONFLICT(id) DO NOTHING',
    columns: 6,
    bind(r, params, o, at) {
      params[o] = r.id;
      params[o + 1] = r.key ?? null;
      params[o + 2] = r.source ?? null;
      params[o + 3] = r.ts ?? null;
      params[o + 4] = payloadJsonOf(r);
      params[o + 5] = at;
    },
  };
}
