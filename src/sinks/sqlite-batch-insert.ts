import type Database from 'better-sqlite3';
import type { SinkRecord } from '../codec/event.js';

/**
 * The most parameters one statement binds: SQLITE_MAX_VARIABLE_NUMBER's default before SQLite
 * 3.32, the lowest any build of better-sqlite3 was compiled with.
 */
const MAX_PARAMETERS = 999;

/**
 * Rows per multi-row INSERT. Into the envelope table, in transactions of 1000 rows, SQLite and
 * better-sqlite3 spent 1.57 µs of CPU a row in statements of 32 rows against 1.96 µs in one
 * statement per row; 16 and 64 rows measured alike (1.61, 1.60), 128 and 256 more (1.65, 1.72).
 */
export const ROWS_PER_STATEMENT = 32;

/** One row's statement parts and how a record becomes its values. */
export interface RowInsert {
  /** `INSERT INTO "t" ("a", "b")`: everything before `VALUES`. */
  head: string;
  /** `ON CONFLICT (…) DO …`: everything after the rows. */
  tail: string;
  /** Values a row binds. */
  columns: number;
  /**
   * Writes the record's values into `params[offset … offset + columns)`. `at` is the batch's
   * wall-clock time, ms. May throw the record's own per-record SinkError.
   */
  bind(record: SinkRecord, params: unknown[], offset: number, at: number): void;
}

interface Statement {
  rows: number;
  statement: Database.Statement;
  params: unknown[];
}

/** What one call of a prepared batch insert wrote. */
export interface BatchWritten {
  /** Rows inserted or updated (a row already stored under its key is not counted). */
  rows: number;
  /**
   * The bound values' size, bytes (a string counted by its UTF-16 length, a number as 8): what the
   * batch adds to the WAL, give or take the pages' own overhead.
   */
  bytes: number;
}

/** Bytes a bound value adds to a row, roughly: exact for ASCII text and blobs. */
function boundSize(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (value instanceof Uint8Array) return value.byteLength;
  return 8;
}

/**
 * Prepares the inserts of a batch: rows go in statements of `ROWS_PER_STATEMENT` rows (fewer for a
 * row of many columns), the rest in statements of 8 and of 1, each prepared once. SQLite runs a
 * multi-row INSERT row by row, each row meeting the rows before it — in the table and earlier in
 * the same statement — on the conflict target exactly as one statement per row would, so the
 * batch ends the same (a later correction of a key still wins). Returns the rows inserted or
 * updated and the bytes bound; runs inside the caller's transaction.
 */
export function prepareBatchInsert(
  db: Database.Database,
  row: RowInsert,
): (records: readonly SinkRecord[], at: number) => BatchWritten {
  const most = Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(MAX_PARAMETERS / row.columns)));
  const sizes = [...new Set([most, Math.min(8, most), 1])];
  const tuple = `(${new Array<string>(row.columns).fill('?').join(', ')})`;
  const statements: Statement[] = sizes.map((rows) => ({
    rows,
    statement: db.prepare(`${row.head} VALUES ${new Array<string>(rows).fill(tuple).join(', ')} ${row.tail}`),
    params: new Array<unknown>(rows * row.columns),
  }));
  const { columns, bind } = row;
  return (records, at) => {
    let changes = 0;
    let bytes = 0;
    let next = 0;
    for (const { rows, statement, params } of statements) {
      while (records.length - next >= rows) {
        for (let r = 0; r < rows; r++) bind(records[next + r]!, params, r * columns, at);
        for (let i = 0; i < params.length; i++) bytes += boundSize(params[i]);
        changes += statement.run(params).changes;
        next += rows;
      }
    }
    return { rows: changes, bytes };
  };
}
