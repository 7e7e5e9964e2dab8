import type Database from 'better-sqlite3';
import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import type { ColumnExtractor, ColumnMap, ColumnValue, OnConflict } from './column-mapping.js';
import type { RowInsert } from './sqlite-batch-insert.js';

/** SQLite's column affinity, from the declared type (sqlite.org/datatype3.html, 3.1). */
type Affinity = 'integer' | 'text' | 'blob' | 'real' | 'numeric';

export function affinityOf(declaredType: string): Affinity {
  const type = declaredType.toUpperCase();
  if (type.includes('INT')) return 'integer';
  if (type.includes('CHAR') || type.includes('CLOB') || type.includes('TEXT')) return 'text';
  // A STRICT table's ANY column keeps every value as bound, as a column without affinity does.
  if (type === '' || type.includes('BLOB') || type === 'ANY') return 'blob';
  if (type.includes('REAL') || type.includes('FLOA') || type.includes('DOUB')) return 'real';
  return 'numeric';
}

type Bindable = string | number | bigint | null;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * How a number's text is bound to a column of `affinity`. Bound as text, an INTEGER, REAL or
 * NUMERIC column converts it exactly as SQLite converts text (9007199254740993 stays that integer,
 * which a JS number would round), and a TEXT column keeps it as written. A column without affinity
 * would keep the text as text: there it is bound as the number it is, an integer within 64 bits
 * exact (as a BigInt), anything else as a double.
 */
function numberBinder(affinity: Affinity): (text: string) => Bindable {
  if (affinity !== 'blob') return (text) => text;
  return (text) => {
    if (/^-?\d+$/.test(text)) {
      const integer = BigInt(text);
      if (integer >= INT64_MIN && integer <= INT64_MAX) return integer;
    }
    return Number(text);
  };
}

/** A value as bound: strings as strings, booleans as 1/0, objects and arrays as their JSON text. */
function binderFor(affinity: Affinity): (value: ColumnValue) => Bindable {
  const number = numberBinder(affinity);
  return (value) => {
    switch (value.kind) {
      case 'null':
        return null;
      case 'string':
        return value.value;
      case 'number':
        return number(value.text);
      case 'boolean':
        return value.value ? 1 : 0;
      case 'json':
        return value.text;
    }
  };
}

const quote = (name: string) => `"${name}"`;
const refused = (message: string) => new SinkError(`sqlite: ${message}`, { retryable: false });

/** Column names compare as SQLite compares them: ASCII case-insensitively. */
const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const sameColumns = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((name) => b.some((other) => sameName(name, other)));

interface TableColumn {
  name: string;
  type: string;
  pk: number;
}

/** The column lists of the table's PRIMARY KEY and of each UNIQUE index that is not partial. */
function uniqueKeys(db: Database.Database, table: string, columns: readonly TableColumn[]): string[][] {
  const keys: string[][] = [];
  const primary = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  if (primary.length > 0) keys.push(primary.map((c) => c.name));
  const indexes = db.prepare(`PRAGMA index_list(${quote(table)})`).all() as {
    name: string;
    unique: number;
    partial: number;
  }[];
  for (const index of indexes) {
    if (index.unique !== 1 || index.partial === 1) continue;
    const parts = db.prepare(`PRAGMA index_info(${quote(index.name)})`).all() as { name: string | null }[];
    // An expression in the index (name null) is no column a target can name.
    if (parts.every((part) => part.name !== null)) keys.push(parts.map((part) => part.name as string));
  }
  return keys;
}

/**
 * Checks that the user's table is there to write into — the table, every mapped column, and a
 * PRIMARY KEY or UNIQUE index of exactly the conflict target — and describes its row insert.
 * Never creates or alters the table: what is missing is a permanent SinkError naming it.
 */
export function mappedRowInsert(
  db: Database.Database,
  path: string,
  table: string,
  columns: ColumnMap,
  onConflict: OnConflict,
  extractor: ColumnExtractor,
): RowInsert {
  const tableColumns = db.prepare(`PRAGMA table_info(${quote(table)})`).all() as TableColumn[];
  const kind = db
    .prepare("SELECT type FROM sqlite_master WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view')")
    .get(table) as { type: string } | undefined;
  if (tableColumns.length === 0 || kind === undefined)
    throw refused(
      `table ${table} does not exist in ${path} (a mapped table is never created; create it first)`,
    );
  if (kind.type !== 'table') throw refused(`${table} in ${path} is a view, not a table`);
  const names = Object.keys(columns);
  const affinities = names.map((name) => {
    const found = tableColumns.find((c) => sameName(c.name, name));
    if (found === undefined)
      throw refused(
        `table ${table} has no column ${name} (mapped from ${columns[name]}); its columns: ${tableColumns.map((c) => c.name).join(', ')}`,
      );
    return affinityOf(found.type);
  });
  const target = onConflict.target;
  if (!uniqueKeys(db, table, tableColumns).some((key) => sameColumns(key, target)))
    throw refused(
      `table ${table} has no UNIQUE index or PRIMARY KEY on (${target.join(', ')}), the conflict target; ` +
        `create one: CREATE UNIQUE INDEX ${table}_${target.join('_')} ON ${table} (${target.join(', ')})`,
    );
  const updated = names.filter((name) => !target.some((t) => sameName(t, name)));
  const action =
    onConflict.action === 'update' && updated.length > 0
      ? `DO UPDATE SET ${updated.map((name) => `${quote(name)} = excluded.${quote(name)}`).join(', ')}`
      : 'DO NOTHING';
  const binders = affinities.map(binderFor);
  return {
    head: `INSERT INTO ${quote(table)} (${names.map(quote).join(', ')})`,
    tail: `ON CONFLICT (${target.map(quote).join(', ')}) ${action}`,
    columns: names.length,
    bind(record: SinkRecord, params: unknown[], offset: number) {
      const values = extractor.values(record);
      for (let i = 0; i < values.length; i++) params[offset + i] = binders[i]!(values[i]!);
    },
  };
}
