import pg from 'pg';
import { type Sink, SinkError, type SinkRecord } from './sink.js';

export interface PostgresSinkOptions {
  /** libpq connection string. @default process.env.DATABASE_URL */
  connectionString?: string;
  /** @default 'events' */
  table?: string;
  /** Connections per worker. @default 2 */
  poolSize?: number;
  /** Server-side statement timeout, ms (a stuck write fails and is retried). @default 30000 */
  statementTimeoutMs?: number;
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** SQLSTATE classes worth a retry: connection (08), resources (53), shutdown (57P0x), serialization. */
const RETRY_SQLSTATE = /^(08|53|57P0[1-3]|57014|40001|40P01)/;
const RETRY_NODE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Whether a pg error is transient. Errors after a lost connection carry no code, only a message. */
export function isRetryablePgError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (error instanceof pg.DatabaseError) return RETRY_SQLSTATE.test(String(code ?? ''));
  if (typeof code === 'string') return RETRY_NODE.has(code) || RETRY_SQLSTATE.test(code);
  return /Connection terminated|timeout|not queryable|ECONNRESET/i.test(String((error as Error)?.message));
}

/**
 * A pool per worker and one statement per batch:
 * `INSERT … SELECT FROM unnest($1::text[], …) ON CONFLICT (id) DO NOTHING` — batched, and
 * idempotent by id. Creates its table if missing.
 */
export class PostgresSink implements Sink {
  readonly idempotent = true;
  readonly #table: string;
  readonly #config: pg.PoolConfig;
  #pool: pg.Pool | undefined;
  #insertSql = '';

  constructor(options: PostgresSinkOptions = {}) {
    const table = options.table ?? 'events';
    if (!TABLE_NAME.test(table)) {
      throw new SinkError(`sink.table must be an SQL identifier, got ${JSON.stringify(table)}`, {
        retryable: false,
      });
    }
    const connectionString = options.connectionString ?? process.env.DATABASE_URL;
    if (!connectionString) {
      throw new SinkError('sink.connectionString is missing and DATABASE_URL is not set', {
        retryable: false,
      });
    }
    this.#table = table;
    this.#config = {
      connectionString,
      max: options.poolSize ?? 2,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
    };
  }

  async open(): Promise<void> {
    const pool = new pg.Pool(this.#config);
    // An idle connection that dies is reported here; the next query gets a fresh one. Without a
    // listener the event would crash the worker.
    pool.on('error', () => {});
    this.#pool = pool;
    const t = `"${this.#table}"`;
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${t} (
          id TEXT PRIMARY KEY,
          key TEXT,
          source TEXT,
          ts DOUBLE PRECISION,
          payload JSONB NOT NULL,
          written_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`,
      );
    } catch (error) {
      // Two workers creating the table at once: the loser sees a duplicate type or table.
      const code = (error as { code?: string }).code;
      if (code !== '23505' && code !== '42P07') {
        throw new SinkError(`postgres: cannot create table ${t}`, {
          retryable: isRetryablePgError(error),
          cause: error,
        });
      }
    }
    this.#insertSql =
      `INSERT INTO ${t} (id, key, source, ts, payload) ` +
      'SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::jsonb[]) ' +
      'ON CONFLICT (id) DO NOTHING';
  }

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    const pool = this.#pool;
    if (!pool) throw new SinkError('postgres sink is not open', { retryable: false });
    const n = records.length;
    const ids = new Array<string>(n);
    const keys = new Array<string | null>(n);
    const sources = new Array<string | null>(n);
    const ts = new Array<number | null>(n);
    const payloads = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      ids[i] = r.id;
      keys[i] = r.key ?? null;
      sources[i] = r.source ?? null;
      ts[i] = r.ts ?? null;
      payloads[i] = JSON.stringify(r.payload);
    }
    try {
      await pool.query(this.#insertSql, [ids, keys, sources, ts, payloads]);
    } catch (error) {
      throw new SinkError(`postgres write failed: ${(error as Error).message}`, {
        retryable: isRetryablePgError(error),
        cause: error,
      });
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.#pool?.end();
    this.#pool = undefined;
  }

  async healthcheck(): Promise<boolean> {
    try {
      await this.#pool?.query('SELECT 1');
      return this.#pool !== undefined;
    } catch {
      return false;
    }
  }
}
