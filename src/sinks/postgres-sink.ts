import type pg from 'pg';
import type { CopyStreamQuery } from 'pg-copy-streams';
import { BufferPool } from '../codec/buffer-pool.js';
import type { SinkRecord } from '../codec/event.js';
import { type SinkError, sluiceCodeOf } from '../errors.js';
import { importOptional } from '../optional-package.js';
import { DEFAULT_MAX_BATCH_BYTES } from '../queue/queue-options.js';
import type { ColumnMap, OnConflict } from './column-mapping.js';
import { encodeCopyBatch } from './postgres-copy.js';
import { PostgresMappedTable } from './postgres-mapped-table.js';
import { requireHidingResponse } from './require-pg.js';
import { payloadJsonOf, type Sink } from './sink.js';
import { requireOpen, sinkFailure, TRANSIENT_NETWORK_CODES } from './sink-support.js';

export interface PostgresSinkOptions {
  /** libpq connection string. @default process.env.DATABASE_URL, read when the options are resolved */
  connectionString?: string;
  /** @default 'events' */
  table?: string;
  /** Connections per worker. @default 2 */
  poolSize?: number;
  /** Server-side statement timeout, ms (a stuck write fails and is retried). @default 30000 */
  statementTimeoutMs?: number;
  /**
   * How long to wait for a connection, ms: TCP connect, startup and authentication — or a free
   * connection when the pool is busy. A server that accepts connections and never answers fails
   * open() and write() retryably after this.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long the client waits for a statement's answer, ms, before it fails the statement
   * (retryably) and drops its connection. Unlike statementTimeoutMs, which the server enforces,
   * this holds when the server stops answering at all. Keep it above statementTimeoutMs, so a
   * slow statement is cancelled by the server rather than left running behind its retry.
   * @default statementTimeoutMs + 5000
   */
  queryTimeoutMs?: number;
  /**
   * TCP keepalive on connections, first probe after 10 s of silence, so the OS notices a peer
   * that vanished without closing.
   * @default true
   */
  keepAlive?: boolean;
  /**
   * Write into the user's own table (`table`, which must exist) instead of the envelope table:
   * each column with the path of its value, `{ order_id: 'id', amount: 'payload.amount' }`.
   * @default the envelope table (id, key, source, ts, payload, written_at), created if missing
   */
  columns?: ColumnMap;
  /**
   * How a row meeting a stored one on a unique index or primary key is written (columns only):
   * kept (`nothing`) or updated with the new mapped values (`update`).
   * @default { target: [the column mapped from id], action: 'nothing' }
   */
  onConflict?: { target: readonly string[]; action?: OnConflict['action'] };
}

export const DEFAULT_POSTGRES_SINK_OPTIONS = {
  table: 'events',
  poolSize: 2,
  statementTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  keepAlive: true,
} as const satisfies Partial<PostgresSinkOptions>;

/** The default queryTimeoutMs is statementTimeoutMs plus this, so the server's timeout fires first. */
export const QUERY_TIMEOUT_MARGIN_MS = 5_000;
/** Idle time before the first keepalive probe, ms. */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * Every option given (onConflict whenever columns are); only src/config/sinks/postgres-sink-schema.ts
 * makes these.
 */
export type ResolvedPostgresSinkOptions = Required<Omit<PostgresSinkOptions, 'columns' | 'onConflict'>> &
  Pick<PostgresSinkOptions, 'columns'> & { onConflict?: OnConflict };

/**
 * SQLSTATEs worth a retry: connection (08), resources (53), shutdown (57P0x), serialization. And a
 * table changed under a running sink: gone (42P01: renamed or dropped by a migration), a mapped
 * column gone (42703) or its type changed past converting (42804), the unique index the conflict
 * target names gone (42P10). Every record meets the same table, so these say nothing about any
 * of them: the batch is retried whole, with backoff, as after a lost connection, until the table
 * is back or retry.maxElapsedMs runs out (then `retries-exhausted`). The columns' types are read
 * at open(): a column whose type changed for good ends so, until the pipeline starts again. A table missing when the
 * sink opens is still refused at once, as a mistake in the config. The envelope table is not
 * created again mid-run: a migration that moved it away would find its new table taken, and the
 * events split between two tables.
 */
const RETRY_SQLSTATE = /^(08|53|57P0[1-3]|57014|40001|40P01|42P01|42703|42804|42P10)/;
/**
 * SQLSTATE classes a single value causes: data exceptions (22: NUL in text, an invalid escape or a
 * lone surrogate in jsonb, a number out of range), integrity constraints (23) and program limits
 * (54: a value nested too deep). The batch is split to find the records at fault. Also a
 * cardinality violation (21000): an upsert meeting one row twice, two records of the batch whose
 * keys the unique index takes as one though the sink kept both (a trigger rewriting the key); split
 * apart, each is written on its own, the later last.
 */
const PER_RECORD_SQLSTATE = /^(21|22|23|54)/;

/** The client library, once a sink has opened: workers whose pipeline uses another sink never load it. */
let pgModule: typeof pg | undefined;
let copyFrom: ((text: string) => CopyStreamQuery) | undefined;

/** What installs the client library: optional peer dependencies of Sluice, needed by this sink alone. */
const PG_PACKAGES = ['pg', 'pg-copy-streams'];

async function loadPg(): Promise<typeof pg> {
  pgModule ??= (
    await importOptional<{ default: typeof pg }>(
      'pg',
      'the postgres sink',
      PG_PACKAGES,
      requireHidingResponse,
    )
  ).default;
  copyFrom ??= (
    await importOptional<{ default: typeof import('pg-copy-streams') }>(
      'pg-copy-streams',
      'the postgres sink',
      PG_PACKAGES,
      requireHidingResponse,
    )
  ).default.from;
  return pgModule;
}

/**
 * Loads the client library ahead of the first open(): a worker started before its pipeline's
 * config is read (`sluice run`'s early pool) does it while it waits, instead of after. A failure
 * (the library not installed) is left for open() to report.
 */
export function preloadPostgresClient(): Promise<void> {
  return loadPg().then(
    () => undefined,
    () => undefined,
  );
}

/** The staging table each connection loads a batch into, emptied by every commit. */
const STAGE = 'sluice_stage';
const STAGE_COPY_SQL = `COPY ${STAGE} FROM STDIN (FORMAT binary)`;
const UNIQUE_VIOLATION = '23505';
/** What PostgreSQL says of a NUL: a byte text cannot hold (22021), or jsonb's escape \u0000 (22P05). */
const NUL_SQLSTATE = new Set(['22021', '22P05']);
const HOLDS_NUL = 'holds NUL (U+0000), which PostgreSQL cannot store in text or jsonb';
/**
 * After a batch met ids already stored, this many batches go through the staging table before a
 * direct COPY is tried again: while a replay lasts, most batches would meet stored ids, and each
 * failed COPY is work the server throws away.
 */
const STAGED_AFTER_CONFLICT = 64;

/** Whether a pg error is transient. Errors after a lost connection carry no code, only a message. */
export function isRetryablePgError(error: unknown): boolean {
  if (timedOutOn(error) !== undefined) return true;
  const code = (error as { code?: unknown } | null)?.code;
  // A server error exists only once the library is loaded.
  if (pgModule && error instanceof pgModule.DatabaseError) return RETRY_SQLSTATE.test(String(code ?? ''));
  if (typeof code === 'string') return TRANSIENT_NETWORK_CODES.has(code) || RETRY_SQLSTATE.test(code);
  return /Connection terminated|timeout|not queryable|ECONNRESET/i.test(String((error as Error)?.message));
}

/**
 * Which client-side limit a pg error reports running out, if any. pg marks these by message only:
 * the pool's connect timeout, a connection's own connect timeout, and the query read timeout.
 */
function timedOutOn(error: unknown): 'connectTimeoutMs' | 'queryTimeoutMs' | undefined {
  const message = String((error as Error | undefined)?.message);
  if (message === 'Query read timeout') return 'queryTimeoutMs';
  if (
    message === 'Connection terminated due to connection timeout' ||
    message === 'timeout exceeded when trying to connect' ||
    message === 'timeout expired'
  ) {
    return 'connectTimeoutMs';
  }
  return undefined;
}

/**
 * A pool per worker; a batch is a binary COPY (postgres-copy.ts: nothing escaped, the payload's
 * JSON parsed once, by the server, as jsonb) on one connection:
 * - straight into the table, when none of its ids is stored yet — the common case, new events,
 *   and half the server's work of the staged way;
 * - when that meets a stored id (a unique violation: the COPY wrote nothing), into a temporary
 *   staging table, then `INSERT … SELECT … FROM stage ON CONFLICT (id) DO NOTHING` and the commit,
 *   which empties the stage — idempotent by id. The next batches take this way too for a while.
 * Creates its table if missing. A value the server refuses fails the COPY with a data exception,
 * reported per record (SinkError.perRecord), so delivery splits the batch around it.
 *
 * With `columns`, the user's own table instead (postgres-mapped-table.ts): checked at open(), never
 * created; a batch is a text COPY straight into it, or — the same way — into a staging table of its
 * columns' types, then `INSERT … ON CONFLICT`. A value refused is reported with its column.
 *
 * Every wait on the server is bounded: connecting by connectTimeoutMs, each statement by
 * statementTimeoutMs on the server and queryTimeoutMs on the client, so a server that stops
 * answering fails a write retryably instead of holding it.
 */
export class PostgresSink implements Sink {
  readonly idempotent = true;
  readonly #table: string;
  readonly #options: ResolvedPostgresSinkOptions;
  readonly #config: pg.PoolConfig;
  #pool: pg.Pool | undefined;
  #mergeSql = '';
  #directSql = '';
  /** Batches written so far, and the count up to which they go through the staging table. */
  #batches = 0;
  #stageUntil = 0;
  /** Connections whose staging table exists (it lives as long as the connection). */
  readonly #staged = new WeakSet<pg.PoolClient>();
  /** Connections this sink listens to for errors while they are checked out. */
  readonly #heard = new WeakSet<pg.PoolClient>();
  /** The user's own table, once open() checked it (columns given). */
  #mapped: PostgresMappedTable | undefined;
  /** Memory for the batches' COPY rows: one per write in flight (poolSize at most), used again. */
  readonly #rowBuffers = new BufferPool(DEFAULT_MAX_BATCH_BYTES, 4);

  /** `options` as resolved on the main thread (the table name is a checked SQL identifier). */
  constructor(options: ResolvedPostgresSinkOptions) {
    this.#options = options;
    const {
      connectionString,
      table,
      poolSize,
      statementTimeoutMs,
      connectTimeoutMs,
      queryTimeoutMs,
      keepAlive,
    } = options;
    this.#table = table;
    this.#config = {
      connectionString,
      max: poolSize,
      statement_timeout: statementTimeoutMs,
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: queryTimeoutMs,
      keepAlive,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    };
  }

  async open(): Promise<void> {
    const { Pool } = await loadPg();
    const pool = new Pool(this.#config);
    // An idle connection that dies is reported here; the next query gets a fresh one. Without a
    // listener the event would crash the worker.
    pool.on('error', () => {});
    const { columns, onConflict } = this.#options;
    if (columns !== undefined && onConflict !== undefined) {
      try {
        this.#mapped = await PostgresMappedTable.inspect(pool, this.#table, columns, onConflict);
      } catch (error) {
        await pool.end().catch(() => {});
        throw sluiceCodeOf(error) === undefined ? this.#failure('cannot read table', error) : error;
      }
      this.#pool = pool;
      return;
    }
    const table = `"${this.#table}"`;
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${table} (
          id TEXT PRIMARY KEY,
          key TEXT,
          source TEXT,
          ts DOUBLE PRECISION,
          payload JSONB NOT NULL,
          written_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`,
      );
    } catch (error) {
      // Two workers (or processes) creating the table at once: the loser sees a duplicate table,
      // or its row type already there (a duplicate object, or a unique violation in pg_type).
      const code = (error as { code?: string }).code;
      if (code !== '23505' && code !== '42P07' && code !== '42710') {
        // A failed open is not closed by its caller, which builds a new sink to try again.
        await pool.end().catch(() => {});
        throw this.#failure(`cannot create table ${table}`, error);
      }
    }
    this.#pool = pool;
    // One simple query: nothing to bind, and the commit needs no round trip of its own.
    this.#directSql = `COPY ${table} (id, key, source, ts, payload) FROM STDIN (FORMAT binary)`;
    this.#mergeSql =
      `INSERT INTO ${table} (id, key, source, ts, payload) SELECT id, key, source, ts, payload FROM ${STAGE} ` +
      'ON CONFLICT (id) DO NOTHING; COMMIT';
  }

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    const pool = requireOpen(this.#pool, 'postgres');
    const mapped = this.#mapped;
    if (mapped !== undefined) {
      // Read before a connection is taken: a payload that cannot be read fails its record alone.
      const texts = mapped.texts(records);
      return this.#withClient(pool, records, async (client) => {
        this.#batches++;
        if (this.#batches > this.#stageUntil) {
          try {
            await copyRows(client, mapped.direct(texts), mapped.directSql);
            return;
          } catch (error) {
            if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
            // A key is stored already (a correction, a replay): this batch and the next ones go
            // through the staging table and its ON CONFLICT, until a later direct try.
            this.#stageUntil = this.#batches + STAGED_AFTER_CONFLICT;
          }
        }
        const rows = mapped.staged(texts);
        if (!this.#staged.has(client)) {
          await client.query(mapped.stageSql);
          this.#staged.add(client);
        }
        // Staged as text, then cast and inserted in one statement.
        await client.query('BEGIN');
        await copyRows(client, rows, mapped.copySql);
        await client.query(mapped.insertSql);
      });
    }
    // Encoded before a connection is taken: a payload that cannot be written fails its record alone.
    const rows = encodeCopyBatch(records, this.#rowBuffers);
    await this.#withClient(pool, records, async (client) => {
      this.#batches++;
      if (this.#batches > this.#stageUntil) {
        try {
          await copyRows(client, rows, this.#directSql);
          return;
        } catch (error) {
          if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
          // Some ids are stored already (a batch written again after a crash, a replayed file):
          // this batch and the next ones go through the staging table, until a later direct try.
          this.#stageUntil = this.#batches + STAGED_AFTER_CONFLICT;
        }
      }
      if (!this.#staged.has(client)) {
        await client.query(
          `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGE} ` +
            '(id text, key text, source text, ts float8, payload jsonb) ON COMMIT DELETE ROWS',
        );
        this.#staged.add(client);
      }
      await client.query('BEGIN');
      await copyRows(client, rows, STAGE_COPY_SQL);
      await client.query(this.#mergeSql);
    });
    // The server took every row (its answer to the COPY came after the last byte): the buffer can
    // hold the next batch. A write that failed keeps it out of the pool — part of it may still be
    // queued on the connection's socket.
    this.#rowBuffers.give(rows);
    return undefined;
  }

  /**
   * Runs `work` on a connection of the pool. A failure is rolled back (the connection dropped if
   * even that fails: it may be the connection that failed) and thrown as a SinkError.
   */
  async #withClient(
    pool: pg.Pool,
    records: readonly SinkRecord[],
    work: (client: pg.PoolClient) => Promise<void>,
  ): Promise<undefined> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw this.#failure('write failed', error);
    }
    let broken: Error | undefined;
    try {
      if (!this.#heard.has(client)) {
        // A checked-out connection that breaks emits 'error' on the client, which the pool only
        // listens for while it is idle: unheard, it would end the worker. The statement under way
        // fails too, and that failure is what the write reports.
        client.on('error', () => {});
        this.#heard.add(client);
      }
      await work(client);
    } catch (error) {
      // A failed statement leaves the transaction aborted: roll it back, or drop the connection
      // if even that fails.
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = error as Error;
      }
      // A table not found or not as described (42xxx) may be the staging table itself, gone with
      // its session's temporary tables (DISCARD TEMP, a pooler between): created again next time
      // (IF NOT EXISTS), so that the retry can succeed.
      if (String((error as { code?: unknown } | null)?.code ?? '').startsWith('42'))
        this.#staged.delete(client);
      // A record refused alone (delivery splits a batch down to it): say which of its values.
      throw this.#failure('write failed', error, records.length === 1 ? records[0] : undefined);
    } finally {
      client.release(broken);
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.#pool?.end();
    this.#pool = undefined;
  }

  /** A SinkError for a failed statement; a timeout names the option whose limit ran out. */
  #failure(what: string, error: unknown, alone?: SinkRecord): SinkError {
    const option = timedOutOn(error);
    // The server's detail says which value it refused ("\u0000 cannot be converted to text").
    const detail = (error as { detail?: unknown } | null)?.detail;
    const code = String((error as { code?: unknown } | null)?.code ?? '');
    const perRecord = PER_RECORD_SQLSTATE.test(code);
    const message = `${String((error as Error | null)?.message ?? error)}${typeof detail === 'string' && detail ? ` (${detail})` : ''}`;
    const reason =
      option !== undefined
        ? `no answer within ${option} (${this.#options[option]} ms)`
        : perRecord
          ? this.#placed(message, error, code, alone)
          : message;
    return sinkFailure('postgres', what, error, { retryable: isRetryablePgError(error), perRecord, reason });
  }

  /**
   * The server's message about a value, saying where in the record it is: the value holding a NUL
   * in a record refused alone, and in the user's table, the column the server was converting (its
   * message names the type and, mostly, the value: `invalid input syntax for type integer: "abc"`
   * is the same words for any integer column).
   */
  #placed(message: string, error: unknown, code: string, alone: SinkRecord | undefined): string {
    const mapped = this.#mapped;
    if (mapped === undefined) {
      const field = alone === undefined ? undefined : nulField(alone);
      return field === undefined ? message : `${message}: ${field} ${HOLDS_NUL}`;
    }
    const column = mapped.columnOf(error);
    const nul =
      alone !== undefined && NUL_SQLSTATE.has(code) ? mapped.nulColumn(alone, column?.name) : undefined;
    if (nul !== undefined) return `${message}: column ${nul} ${HOLDS_NUL}`;
    if (column === undefined) return message;
    const { name, value } = column;
    return `column ${name}: ${message}${value === undefined || message.includes(value) ? '' : `, got ${value}`}`;
  }
}

/**
 * Which of a record's values holds NUL, PostgreSQL's one character it cannot store as text (and, as
 * the escape \u0000, in jsonb): `id`, `key`, `source` or `payload`; undefined when none does.
 */
function nulField(record: SinkRecord): string | undefined {
  if (record.id.includes('\0')) return 'id';
  if (record.key?.includes('\0')) return 'key';
  if (record.source?.includes('\0')) return 'source';
  if (payloadJsonOf(record).includes('\\u0000')) return 'payload';
  return undefined;
}

/** Sends a binary COPY (`sql`); resolves once the server has taken every row. */
function copyRows(client: pg.PoolClient, rows: Buffer, sql: string): Promise<void> {
  const stream = client.query(copyFrom!(sql));
  return new Promise((resolve, reject) => {
    // Not once: a stream that failed (a timeout) can fail again when its connection is then
    // closed, and an 'error' nobody hears would end the worker.
    stream.on('error', reject);
    stream.once('finish', resolve);
    stream.end(rows);
  });
}
