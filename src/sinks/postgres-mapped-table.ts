import type pg from 'pg';
import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import { ColumnExtractor, type ColumnMap, type OnConflict } from './column-mapping.js';
import {
  type ColumnSpelling,
  columnText,
  encodeMappedRows,
  encodeMappedText,
} from './postgres-mapped-copy.js';

/** The staging table each connection loads a mapped batch into, emptied by every commit. */
const MAPPED_STAGE = 'sluice_mapped_stage';

/** A mapped column as the table declares it. */
interface TableColumn {
  name: string;
  /** The type's name (`numeric`, `timestamp with time zone`), which says how values are spelled. */
  type: string;
  /**
   * The cast a staged text takes: the type's quoted schema and name, so no modifier applies —
   * `::character` would mean char(1) and truncate; the INSERT then checks the column's own
   * modifier, refusing a value too long rather than cutting it.
   */
  cast: string;
}

/** How the unique index ON CONFLICT arbitrates on compares the target's values. */
interface Arbiter {
  /** Whether two NULLs are different keys (not an index declared NULLS NOT DISTINCT). */
  nullsDistinct: boolean;
  /** Each collatable target column's collation in the index, quoted (`"public"."ci"`). */
  collations: ReadonlyMap<string, string>;
}

const JSON_TYPES = new Set(['json', 'jsonb']);
const TIME_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone', 'date']);

/**
 * The user's own table, written through its mapped columns, values as text the server converts
 * (numbers stay exact). While no batch meets a stored key, a batch is one text COPY straight into
 * the table (directSql). Else its values are copied into a per-connection staging table, then one
 * `INSERT … SELECT` casts each to its column's type `ON CONFLICT (target) DO NOTHING` or
 * `DO UPDATE` the mapped columns outside the target. Updating, a batch holding a key twice keeps
 * its last record: a statement may not update one row twice. A key holding a NULL is no key twice:
 * a unique index holds any number of them (unless it is NULLS NOT DISTINCT), so each such record
 * is a row of its own, as the direct COPY and DO NOTHING store it.
 */
export class PostgresMappedTable {
  readonly #extractor: ColumnExtractor;
  readonly #spellings: readonly ColumnSpelling[];
  readonly #stageSql: string;
  readonly #copySql: string;
  readonly #directSql: string;
  readonly #insertSql: string;

  private constructor(
    table: string,
    columns: readonly TableColumn[],
    onConflict: OnConflict,
    map: ColumnMap,
    { nullsDistinct, collations }: Arbiter,
  ) {
    this.#extractor = new ColumnExtractor(map);
    this.#spellings = columns.map(({ type }) =>
      JSON_TYPES.has(type) ? 'json' : TIME_TYPES.has(type) ? 'time' : 'plain',
    );
    const staged = columns.map((_, i) => `c${i}`);
    this.#stageSql =
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${MAPPED_STAGE} ` +
      `(seq int4, ${staged.map((c) => `${c} text`).join(', ')}) ON COMMIT DELETE ROWS`;
    this.#copySql = `COPY ${MAPPED_STAGE} FROM STDIN (FORMAT binary)`;
    const names = columns.map(({ name }) => quote(name));
    this.#directSql = `COPY ${quote(table)} (${names.join(', ')}) FROM STDIN`;
    const casts = columns.map(({ cast }, i) => `s.c${i}::${cast}`);
    const target = onConflict.target.map(quote).join(', ');
    const rest = columns
      .filter(({ name }) => !onConflict.target.includes(name))
      .map(({ name }) => quote(name));
    const into = `INSERT INTO ${quote(table)} (${names.join(', ')}) `;
    if (onConflict.action === 'update' && rest.length > 0) {
      // Compared as the index compares them: in its collation, not the cast's default one, under
      // which keys a case-insensitive index takes as one ('ABC', 'abc') would be two, and the
      // statement would update their row twice — which PostgreSQL refuses for the whole batch.
      const targetAt = onConflict.target.map((name) => {
        const collation = collations.get(name);
        return `v.c${columns.findIndex((c) => c.name === name)}${collation === undefined ? '' : ` COLLATE ${collation}`}`;
      });
      // DISTINCT ON takes NULLs as equal, the index does not: a key holding one gets its record's
      // place in the batch beside it: it shares its group with no other record, and none is dropped.
      const keys = nullsDistinct
        ? [...targetAt, `CASE WHEN ${targetAt.map((c) => `${c} IS NULL`).join(' OR ')} THEN v.seq END`]
        : targetAt;
      this.#insertSql =
        `${into}SELECT DISTINCT ON (${keys.join(', ')}) ${staged.map((c) => `v.${c}`).join(', ')} ` +
        `FROM (SELECT s.seq, ${casts.map((cast, i) => `${cast} AS c${i}`).join(', ')} FROM ${MAPPED_STAGE} s) v ` +
        `ORDER BY ${keys.join(', ')}, v.seq DESC ` +
        `ON CONFLICT (${target}) DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}; COMMIT`;
    } else {
      // DO NOTHING takes a key met twice in one statement: the first in the batch stays, as a
      // later batch's would.
      this.#insertSql =
        `${into}SELECT ${casts.join(', ')} FROM ${MAPPED_STAGE} s ORDER BY s.seq ` +
        `ON CONFLICT (${target}) DO NOTHING; COMMIT`;
    }
  }

  /**
   * Checks the table as it stands: it exists, has every mapped column (none computed by the
   * server), and a unique index or
   * primary key on exactly the conflict target. Otherwise a permanent SinkError naming what is
   * missing: nothing is created.
   */
  static async inspect(
    pool: pg.Pool,
    table: string,
    map: ColumnMap,
    onConflict: OnConflict,
  ): Promise<PostgresMappedTable> {
    const found = await pool.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [
      quote(table),
    ]);
    const oid = found.rows[0]?.oid;
    if (oid === null || oid === undefined)
      throw refused(
        `table ${quote(table)} does not exist (with columns, Sluice writes into a table you create)`,
      );
    const attributes = await pool.query<{
      name: string;
      num: number;
      type: string;
      cast: string;
      computed: string;
    }>(
      `SELECT attname AS name, attnum AS num, format_type(atttypid, NULL) AS type,
              (SELECT '"' || replace(n.nspname, '"', '""') || '"."' || replace(t.typname, '"', '""') || '"'
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = atttypid) AS cast,
              CASE WHEN attgenerated <> '' THEN 'a generated' WHEN attidentity = 'a' THEN 'an identity always' ELSE '' END AS computed
         FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
      [oid],
    );
    const byName = new Map(attributes.rows.map((row) => [row.name, row]));
    const columns = Object.keys(map).map((name) => {
      const column = byName.get(name);
      if (column === undefined)
        throw refused(`table ${quote(table)} has no column ${quote(name)} (mapped from ${map[name]})`);
      // The server computes these: an INSERT naming one fails for every batch.
      if (column.computed !== '')
        throw refused(
          `table ${quote(table)} column ${quote(name)} is ${column.computed} column: it cannot be mapped`,
        );
      return { name, type: column.type, cast: column.cast };
    });
    // NULLS NOT DISTINCT (PostgreSQL 15) read through to_jsonb: older servers have no such column.
    // Each key column's collation as the index has it (NULL for a type without one).
    const indexes = await pool.query<{
      keys: string;
      count: number;
      nullsEqual: boolean;
      collations: (string | null)[];
    }>(
      `SELECT indkey::text AS keys, indnkeyatts AS count,
              (to_jsonb(i) ->> 'indnullsnotdistinct')::boolean IS TRUE AS "nullsEqual",
              ARRAY(SELECT '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.collname, '"', '""') || '"'
                      FROM unnest(i.indcollation::oid[]) WITH ORDINALITY AS u(coll, k)
                      LEFT JOIN pg_collation c ON c.oid = u.coll
                      LEFT JOIN pg_namespace n ON n.oid = c.collnamespace
                     ORDER BY u.k) AS collations
         FROM pg_index i
        WHERE indrelid = $1 AND indisunique AND indpred IS NULL AND indexprs IS NULL`,
      [oid],
    );
    const nameOf = new Map(attributes.rows.map((row) => [row.num, row.name]));
    const wanted = [...onConflict.target].sort().join(',');
    const matches = indexes.rows.filter(({ keys, count }) => {
      const names = keys
        .split(' ')
        .slice(0, count)
        .map((num) => nameOf.get(Number(num)));
      return names.sort().join(',') === wanted;
    });
    if (matches.length === 0)
      throw refused(
        `table ${quote(table)} has no unique index or primary key on exactly (${onConflict.target.join(', ')}), ` +
          'the onConflict target',
      );
    // ON CONFLICT arbitrates on every index matching the target: NULLs meet as soon as one of
    // them takes NULLs as equal.
    const nullsDistinct = matches.every(({ nullsEqual }) => !nullsEqual);
    // The first matching index's collations (two indexes on the same columns in different
    // collations are rare; were they to disagree, the batch is split, see PER_RECORD_SQLSTATE).
    const first = matches[0]!;
    const collations = new Map<string, string>();
    first.keys
      .split(' ')
      .slice(0, first.count)
      .forEach((num, k) => {
        const collation = first.collations[k];
        if (collation) collations.set(nameOf.get(Number(num))!, collation);
      });
    return new PostgresMappedTable(table, columns, onConflict, map, { nullsDistinct, collations });
  }

  /**
   * The batch's mapped values as the text each column converts from (null: NULL); a payload that
   * cannot be read fails its record alone.
   */
  texts(records: readonly SinkRecord[]): (string | null)[][] {
    const spellings = this.#spellings;
    return records.map((record) =>
      this.#extractor.values(record).map((value, i) => columnText(value, spellings[i]!)),
    );
  }

  /** Rows for the staging table (binary COPY, with their place in the batch). */
  staged(texts: readonly (readonly (string | null)[])[]): Buffer {
    return encodeMappedRows(texts, this.#spellings.length);
  }

  /** Rows for a COPY straight into the table (text format). */
  direct(texts: readonly (readonly (string | null)[])[]): Buffer {
    return encodeMappedText(texts);
  }

  /**
   * COPY straight into the table, for batches that meet no stored row: the columns' types read
   * the text as a cast would, and nothing is staged. A batch that meets one fails whole (a unique
   * violation) and goes through the staging table instead.
   */
  get directSql(): string {
    return this.#directSql;
  }

  /** Creates the connection's staging table (it lives as long as the connection). */
  get stageSql(): string {
    return this.#stageSql;
  }

  /** Loads the encoded rows into the staging table, inside the transaction. */
  get copySql(): string {
    return this.#copySql;
  }

  /** Casts, inserts and commits (one simple query, no round trip of its own for the commit). */
  get insertSql(): string {
    return this.#insertSql;
  }
}

function quote(identifier: string): string {
  return `"${identifier}"`;
}

function refused(reason: string): SinkError {
  return new SinkError(`postgres: ${reason}`, { retryable: false });
}
