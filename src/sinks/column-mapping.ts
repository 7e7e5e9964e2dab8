import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import { payloadJsonOf } from './sink.js';

/**
 * Where a column's value comes from: an envelope field (`id`, `key`, `source`, `ts`), the whole
 * payload (`payload`), or a path into it (`payload.customer.id`, `payload.items.0.sku`).
 */
export type ColumnPath = string;

/** A table's columns, each with the path of its value: `{ order_id: 'id', amount: 'payload.amount' }`. */
export type ColumnMap = Readonly<Record<string, ColumnPath>>;

/** How a mapped row that meets an existing one on the conflict target is written. */
export interface OnConflict {
  /** Columns of the table's PRIMARY KEY or of one of its UNIQUE indexes. */
  readonly target: readonly string[];
  /** `nothing`: the stored row stays; `update`: its mapped columns outside the target take the new values. */
  readonly action: 'nothing' | 'update';
}

/**
 * One column's value for one record, as the event carries it: numbers, objects and arrays as the
 * JSON text they were written as (so `12345678901234567890` or `19.990000000000000001` reach a
 * numeric column exact, the database converting the text), strings decoded.
 */
export type ColumnValue =
  | { kind: 'null' }
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'json'; text: string };

export const NULL_VALUE: ColumnValue = Object.freeze({ kind: 'null' });

/** A parsed path: the envelope field, or the payload and the keys (array indexes as strings) under it. */
export type ParsedPath =
  | { field: 'id' | 'key' | 'source' | 'ts' }
  | { field: 'payload'; keys: readonly string[] };

const ENVELOPE = new Set(['id', 'key', 'source', 'ts']);

/** The path's parts, or a sentence saying what is wrong with it (for the option's error). */
export function parseColumnPath(path: string): ParsedPath | string {
  if (ENVELOPE.has(path)) return { field: path as 'id' | 'key' | 'source' | 'ts' };
  const [head, ...keys] = path.split('.');
  if (head !== 'payload') return 'a path starting with id, key, source, ts or payload';
  if (keys.some((key) => key === '')) return 'a path without empty segments (payload.a.b)';
  return { field: 'payload', keys };
}

/** The payload paths as a tree: the columns whose value is at this node, and the keys below it. */
interface PathNode {
  ends: number[];
  children: Map<string, PathNode>;
}

/**
 * Extracts every mapped column's value from records. Paths are parsed once into a tree; a payload
 * is read from its JSON text (payloadJsonOf) in one pass that descends only into the members some
 * path names, comparing member names without decoding them (unless they hold escapes).
 */
export class ColumnExtractor {
  readonly columns: readonly string[];
  readonly #paths: readonly ParsedPath[];
  readonly #payload: PathNode | undefined;

  constructor(map: ColumnMap) {
    this.columns = Object.keys(map);
    this.#paths = this.columns.map((column) => {
      const parsed = parseColumnPath(map[column]!);
      if (typeof parsed === 'string') throw new TypeError(`column ${column}: ${parsed}`);
      return parsed;
    });
    let root: PathNode | undefined;
    this.#paths.forEach((path, index) => {
      if (path.field !== 'payload') return;
      root ??= { ends: [], children: new Map() };
      let node = root;
      for (const key of path.keys) {
        let child = node.children.get(key);
        if (!child) {
          child = { ends: [], children: new Map() };
          node.children.set(key, child);
        }
        node = child;
      }
      node.ends.push(index);
    });
    this.#payload = root;
  }

  /** The record's values, in `columns` order. */
  values(record: SinkRecord): ColumnValue[] {
    const out = this.#paths.map((path): ColumnValue => {
      switch (path.field) {
        case 'id':
          return { kind: 'string', value: record.id };
        case 'key':
        case 'source': {
          const value = record[path.field];
          return value === undefined ? NULL_VALUE : { kind: 'string', value };
        }
        case 'ts':
          return record.ts === undefined ? NULL_VALUE : { kind: 'number', text: String(record.ts) };
        default:
          return NULL_VALUE;
      }
    });
    if (this.#payload) {
      const json = payloadJsonOf(record);
      visit(json, skipSpace(json, 0), this.#payload, out);
      // A lone surrogate (JSON may carry "\ud800") has no UTF-8 form: written, it would become
      // U+FFFD without a word. The record is refused instead, alone, naming the column.
      for (let i = 0; i < out.length; i++) {
        const value = out[i]!;
        if (value.kind === 'string' && !value.value.isWellFormed())
          throw new SinkError(
            `record ${record.id}: column ${this.columns[i]}: a string holding a lone UTF-16 surrogate cannot be stored as text`,
            { retryable: false, perRecord: true },
          );
      }
    }
    return out;
  }
}

/** Sets the values of the columns at `node` and below from the JSON value starting at `at`. */
function visit(json: string, at: number, node: PathNode, out: ColumnValue[]): void {
  if (node.ends.length > 0) {
    const value = valueFrom(json, at);
    for (const index of node.ends) out[index] = value;
  }
  if (node.children.size === 0) return;
  const c = json.charCodeAt(at);
  if (c === 0x7b /* { */) {
    let i = skipSpace(json, at + 1);
    if (json.charCodeAt(i) === 0x7d) return;
    for (;;) {
      const keyEnd = stringEnd(json, i);
      const valueStart = skipSpace(json, skipSpace(json, keyEnd) + 1); // past the colon
      const child = childNamed(json, i, keyEnd, node);
      if (child) {
        // A repeated key: the last one is the member, as JSON.parse has it.
        clear(child, out);
        visit(json, valueStart, child, out);
      }
      i = skipSpace(json, valueEnd(json, valueStart));
      if (json.charCodeAt(i) !== 0x2c) return;
      i = skipSpace(json, i + 1);
    }
  }
  if (c === 0x5b /* [ */) {
    let i = skipSpace(json, at + 1);
    if (json.charCodeAt(i) === 0x5d) return;
    for (let n = 0; ; n++) {
      const child = node.children.get(String(n));
      if (child) visit(json, i, child, out);
      i = skipSpace(json, valueEnd(json, i));
      if (json.charCodeAt(i) !== 0x2c) return;
      i = skipSpace(json, i + 1);
    }
  }
}

/** The child of `node` named by the member name between `start` (its quote) and `end` (past its quote). */
function childNamed(json: string, start: number, end: number, node: PathNode): PathNode | undefined {
  const length = end - start - 2;
  let escaped = false;
  for (let i = start + 1; i < end - 1; i++) {
    if (json.charCodeAt(i) === 0x5c) {
      escaped = true;
      break;
    }
  }
  if (escaped) return node.children.get(JSON.parse(json.slice(start, end)) as string);
  for (const [key, child] of node.children)
    if (key.length === length && json.startsWith(key, start + 1)) return child;
  return undefined;
}

/** Every column at or below `node` back to null (before a repeated member is read again). */
function clear(node: PathNode, out: ColumnValue[]): void {
  for (const index of node.ends) out[index] = NULL_VALUE;
  for (const child of node.children.values()) clear(child, out);
}

/** The value starting at `at`, as a column takes it. */
function valueFrom(json: string, at: number): ColumnValue {
  switch (json.charCodeAt(at)) {
    case 0x22 /* " */:
      return { kind: 'string', value: JSON.parse(json.slice(at, stringEnd(json, at))) as string };
    case 0x7b:
    case 0x5b:
      return { kind: 'json', text: json.slice(at, valueEnd(json, at)) };
    case 0x74 /* t */:
      return { kind: 'boolean', value: true };
    case 0x66 /* f */:
      return { kind: 'boolean', value: false };
    case 0x6e /* n */:
      return NULL_VALUE;
    default:
      return { kind: 'number', text: json.slice(at, valueEnd(json, at)) };
  }
}

function skipSpace(json: string, at: number): number {
  while (at < json.length) {
    const c = json.charCodeAt(at);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    at++;
  }
  return at;
}

/** Where the string starting at `at` (its opening quote) ends, one past its closing quote. */
function stringEnd(json: string, at: number): number {
  let i = at + 1;
  for (;;) {
    const c = json.charCodeAt(i);
    if (c === 0x5c /* \ */) i += 2;
    else if (c === 0x22) return i + 1;
    else i++;
  }
}

/** Where the value starting at `at` ends (one past it). */
function valueEnd(json: string, at: number): number {
  const c = json.charCodeAt(at);
  if (c === 0x22) return stringEnd(json, at);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    let i = at;
    for (;;) {
      const d = json.charCodeAt(i);
      if (d === 0x22) {
        i = stringEnd(json, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }
  let i = at;
  while (i < json.length) {
    const d = json.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    i++;
  }
  return i;
}
