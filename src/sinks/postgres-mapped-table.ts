import type pg from 'pg';
import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import { ColumnExtractor, type ColumnMap, type OnConflict } from './column-mapping.js';
import { type ColumnSpelling, columnText, encodeMappedText } from './postgres-mapped-copy.js';

/** The staging table each connection loads a mapped batch into, emptied by every commit. */
const MAPPED_STAGE = 'sluice_mapped_stage';

/**
 * Where a COPY was when the server refused a value: the last line of its error's `where` (after
 * any context the type's input function adds), naming the table, and the column with the value
 * quoted (which may hold a newline), or `null input`. A row refused whole (a NUL, which fails the
 * line's encoding; a constraint) names no column.
 */
const COPY_CONTEXT = /(?:^|\n)COPY (\w+), line \d+, column (\w+)(?:: (.*))?$/s;

/** A mapped column as the table declares it. */
interface TableColumn {
  name: string;
  /** The type's name (`numeric`, `timestamp with time zone`), which says how values are spelled. */
  type: string;
  /**
   * The type with its modifier (`character(3)`, `numeric(12,2)`), as the staging table declares
   * the column: its input function then refuses a value too long for it, where a cast to the
   * type's name with a modifier would cut it (`'hello'::character(3)` is `hel`).
   */
  declared: string;
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
 * the table (directSql). Else it is one text COPY into a per-connection staging table whose columns
 * have the mapped columns' types, then one `INSERT … SELECT … ON CONFLICT (target) DO NOTHING` or
 * `DO UPDATE` the mapped columns outside the target. Either way each value is converted as a COPY
 * reads it, and the server names the column of a value its type refuses (columnOf), where a cast
 * in the INSERT would have named none. Updating, a batch holding a key twice keeps its last
 * record: a statement may not update one row twice. A key holding a NULL is no key twice: a unique
 * index holds any number of them (unless it is NULLS NOT DISTINCT), so each such record is a row
 * of its own, as the direct COPY and DO NOTHING store it.
 */
export class PostgresMappedTable {
  readonly #extractor: ColumnExtractor;
  readonly #spellings: readonly ColumnSpelling[];
  readonly #table: string;
  readonly #names: readonly string[];
  /** Per column, whether it is jsonb, which refuses the escape \u0000 (json keeps it as written). */
  readonly #jsonb: readonly boolean[];
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
    this.#table = table;
    this.#names = columns.map(({ name }) => name);
    this.#jsonb = columns.map(({ type }) => type === 'jsonb');
    // Named c0, c1…: a mapped column may be called seq.
    const staged = columns.map((_, i) => `c${i}`);
    this.#stageSql =
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${MAPPED_STAGE} ` +
      `(seq int4, ${columns.map(({ declared }, i) => `c${i} ${declared}`).join(', ')}) ON COMMIT DELETE ROWS`;
    this.#copySql = `COPY ${MAPPED_STAGE} FROM STDIN`;
    const names = columns.map(({ name }) => quote(name));
    this.#directSql = `COPY ${quote(table)} (${names.join(', ')}) FROM STDIN`;
    const values = staged.map((c) => `s.${c}`);
    const target = onConflict.target.map(quote).join(', ');
    const rest = columns
      .filter(({ name }) => !onConflict.target.includes(name))
      .map(({ name }) => quote(name));
    const into = `INSERT INTO ${quote(table)} (${names.join(', ')}) `;
    if (onConflict.action === 'update' && rest.length > 0) {
      // Compared as the index compares them: in its collation, not the type's default one, under
      // which keys a case-insensitive index takes as one ('ABC', 'abc') would be two, and the
      // statement would update their row twice — which PostgreSQL refuses for the whole batch.
      const targetAt = onConflict.target.map((name) => {
        const collation = collations.get(name);
        return `s.c${columns.findIndex((c) => c.name === name)}${collation === undefined ? '' : ` COLLATE ${collation}`}`;
      });
      // DISTINCT ON takes NULLs as equal, the index does not: a key holding one gets its record's
      // place in the batch beside it: it shares its group with no other record, and none is dropped.
      const keys = nullsDistinct
        ? [...targetAt, `CASE WHEN ${targetAt.map((c) => `${c} IS NULL`).join(' OR ')} THEN s.seq END`]
        : targetAt;
      this.#insertSql =
        `${into}SELECT DISTINCT ON (${keys.join(', ')}) ${values.join(', ')} FROM ${MAPPED_STAGE} s ` +
        `ORDER BY ${keys.join(', ')}, s.seq DESC ` +
        `ON CONFLICT (${target}) DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}; COMMIT`;
    } else {
      // DO NOTHING takes a key met twice in one statement: the first in the batch stays, as a
      // later batch's would.
      this.#insertSql =
        `${into}SELECT ${values.join(', ')} FROM ${MAPPED_STAGE} s ORDER BY s.seq ` +
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
      declared: string;
      computed: string;
    }>(
      `SELECT attname AS name, attnum AS num, format_type(atttypid, NULL) AS type,
              format_type(atttypid, atttypmod) AS declared,
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
      return { name, type: column.type, declared: column.declared };
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

  /** Rows for the staging table (text format, each opening with its place in the batch). */
  staged(texts: readonly (readonly (string | null)[])[]): Buffer {
    return encodeMappedText(texts, true);
  }

  /** Rows for a COPY straight into the table (text format). */
  direct(texts: readonly (readonly (string | null)[])[]): Buffer {
    return encodeMappedText(texts);
  }

  /**
   * Which mapped column a server error is about, as the COPY that refused the value names it in
   * its context (`COPY orders, line 3, column qty: "abc"`; the staging table's c1 is the second
   * mapped column), with the value as the server quotes it, `NULL` for none; undefined when the
   * server names no column.
   */
  columnOf(error: unknown): { name: string; value: string | undefined } | undefined {
    const where = (error as { where?: unknown } | null)?.where;
    const context = typeof where === 'string' ? COPY_CONTEXT.exec(where) : null;
    if (context === null) return undefined;
    const [, table, column, value] = context;
    const name =
      table === MAPPED_STAGE
        ? this.#names[Number(column!.slice(1))]
        : table === this.#table && this.#names.includes(column!)
          ? column
          : undefined;
    if (name === undefined) return undefined;
    return { name, value: value === 'null input' ? 'NULL' : value };
  }

  /**
   * Which of a record's mapped columns holds NUL, which PostgreSQL cannot store as text (nor, as
   * the escape \u0000, in jsonb): `named` when it does (the column the server named), else the
   * first that does; undefined when none does. Its text fails the whole line of a COPY, so the
   * server names no column for it.
   */
  nulColumn(record: SinkRecord, named?: string): string | undefined {
    const [texts] = this.texts([record]);
    const holds = (i: number) =>
      texts![i]?.includes('\0') || (this.#jsonb[i] && texts![i]?.includes('\\u0000'));
    const at = named === undefined ? -1 : this.#names.indexOf(named);
    if (at >= 0 && holds(at)) return named;
    const first = this.#names.findIndex((_, i) => holds(i));
    return first < 0 ? undefined : this.#names[first];
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

  /** Inserts and commits (one simple query, no round trip of its own for the commit). */
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
