/**
 * The SQLite sink's batch insert: rows go in multi-row statements, and a batch of any length
 * stores exactly what one statement per row in batch order would have stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { isPerRecord } from '../../src/sinks/sink.js';
import { prepareBatchInsert, ROWS_PER_STATEMENT } from '../../src/sinks/sqlite-batch-insert.js';
import { SqliteSink, type SqliteSinkOptions } from '../../src/sinks/sqlite-sink.js';
import { readDeadLetters, useScenes } from '../helpers/engine.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-sqlite-batch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let path: string;
let n = 0;
beforeEach(() => {
  path = join(root, `batch-${++n}.db`);
});

const sinks: SqliteSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function openSink(options: Omit<SqliteSinkOptions, 'path'> = {}): Promise<SqliteSink> {
  const s = new SqliteSink(resolveSinkSpec({ type: 'sqlite', path, ...options }));
  sinks.push(s);
  await s.open();
  return s;
}

function query<Row>(sql: string): Row[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as Row[];
  } finally {
    db.close();
  }
}

const record = (id: string, value: number, key = `k-${value % 7}`): SinkRecord => ({
  id,
  key,
  ts: 1_700_000_000_000 + value,
  payload: { value },
});

/** Lengths around each statement size: one below, at and above 1, 8 and ROWS_PER_STATEMENT, and several of them. */
const LENGTHS = [
  1,
  7,
  8,
  9,
  ROWS_PER_STATEMENT - 1,
  ROWS_PER_STATEMENT,
  ROWS_PER_STATEMENT + 1,
  3 * ROWS_PER_STATEMENT + 8 + 7,
  1000,
];

describe('SQLite batch insert', () => {
  it.each(LENGTHS)('stores every record of a batch of %i once, each with its own fields', async (length) => {
    const s = await openSink({ table: 'events' });
    const batch = Array.from({ length }, (_, i) => record(`b${length}-${i}`, i));
    await s.write(batch);
    await s.write(batch);
    const rows = query<{ id: string; key: string; ts: number; payload: string }>(
      'SELECT id, key, ts, payload FROM events ORDER BY rowid',
    );
    expect(rows).toEqual(
      batch.map((r) => ({ id: r.id, key: r.key, ts: r.ts, payload: JSON.stringify(r.payload) })),
    );
  });

  it('keeps the first of two records with one id inside one statement, as one statement per row does', async () => {
    const s = await openSink({ table: 'events' });
    const batch = Array.from({ length: ROWS_PER_STATEMENT }, (_, i) => record(`d-${i}`, i));
    // Same id as record 3, in the same statement of ROWS_PER_STATEMENT rows.
    batch[ROWS_PER_STATEMENT - 2] = record('d-3', 999);
    await s.write(batch);
    const rows = query<{ id: string; payload: string }>("SELECT id, payload FROM events WHERE id = 'd-3'");
    expect(rows).toEqual([{ id: 'd-3', payload: JSON.stringify({ value: 3 }) }]);
    expect(query<{ n: number }>('SELECT count(*) AS n FROM events')).toEqual([{ n: ROWS_PER_STATEMENT - 1 }]);
  });

  it('keeps the last correction of each key in a mapped table when corrections meet inside one statement and across statements', async () => {
    const db = new Database(path);
    db.exec('CREATE TABLE latest (k TEXT PRIMARY KEY, value INTEGER, event_id TEXT)');
    db.close();
    const s = await openSink({
      table: 'latest',
      columns: { k: 'key', value: 'payload.value', event_id: 'id' },
      onConflict: { target: ['k'], action: 'update' },
    });
    // 7 keys, 500 events: each key is corrected within every statement and across statements.
    const batch = Array.from({ length: 500 }, (_, i) => record(`m-${i}`, i));
    await s.write(batch);
    const expected = Array.from({ length: 7 }, (_, k) => {
      const last = batch.filter((r) => r.key === `k-${k}`).at(-1)!;
      return { k: `k-${k}`, value: (last.payload as { value: number }).value, event_id: last.id };
    });
    expect(query('SELECT k, value, event_id FROM latest ORDER BY k')).toEqual(expected);
  });

  it('writes mapped rows of too many columns for a full statement in statements of fewer rows', async () => {
    const columns = 120;
    const names = Array.from({ length: columns }, (_, i) => `c${i}`);
    const db = new Database(path);
    db.exec(`CREATE TABLE wide (id TEXT PRIMARY KEY, ${names.map((c) => `${c} INTEGER`).join(', ')})`);
    db.close();
    const s = await openSink({
      table: 'wide',
      columns: Object.fromEntries([['id', 'id'], ...names.map((c) => [c, 'payload.value'])]),
    });
    const batch = Array.from({ length: 100 }, (_, i) => record(`w-${i}`, i));
    await s.write(batch);
    const rows = query<Record<string, unknown>>('SELECT * FROM wide ORDER BY rowid');
    expect(rows.map((r) => r.id)).toEqual(batch.map((r) => r.id));
    expect(rows.every((r, i) => names.every((c) => r[c] === i))).toBe(true);
  });

  it('fails the whole batch, per record, when one record deep in it is refused, and stores none of it', async () => {
    const s = await openSink({ table: 'events' });
    const batch = Array.from({ length: 300 }, (_, i) => record(`r-${i}`, i));
    // A payload of undefined serialises to nothing: refused by the sink before SQLite sees it.
    batch[200] = { ...batch[200]!, payload: undefined };
    const refused = await s.write(batch).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
    expect(isPerRecord(refused)).toBe(true);
    expect(query<{ n: number }>('SELECT count(*) AS n FROM events')).toEqual([{ n: 0 }]);
  });

  it('fails the batch, per record, when SQLite refuses one row of a multi-row statement', async () => {
    const db = new Database(path);
    db.exec('CREATE TABLE strict_rows (id TEXT PRIMARY KEY, value INTEGER) STRICT');
    db.close();
    const s = await openSink({ table: 'strict_rows', columns: { id: 'id', value: 'payload.value' } });
    const batch = Array.from({ length: 150 }, (_, i) => record(`s-${i}`, i));
    batch[ROWS_PER_STATEMENT + 5] = { ...batch[70]!, payload: { value: 'not a number' } };
    const refused = await s.write(batch).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ retryable: false, perRecord: true });
    expect(query<{ n: number }>('SELECT count(*) AS n FROM strict_rows')).toEqual([{ n: 0 }]);
  });

  it('counts the rows a batch inserted, and none of a batch already stored, and the bytes it bound', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)');
    const insert = prepareBatchInsert(db, {
      head: 'INSERT INTO t (id, v)',
      tail: 'ON CONFLICT(id) DO NOTHING',
      columns: 2,
      bind(r, params, o) {
        params[o] = r.id;
        params[o + 1] = (r.payload as { value: number }).value;
      },
    });
    const batch = Array.from({ length: 77 }, (_, i) => record(`c-${i}`, i));
    const first = insert(batch, 0);
    expect(first.rows).toBe(77);
    // What the batch adds to the WAL, roughly: each id's characters and 8 bytes for each number.
    expect(first.bytes).toBe(batch.reduce((n, r) => n + r.id.length + 8, 0));
    expect(insert(batch, 0).rows).toBe(0);
    expect(insert([...batch.slice(0, 10), record('c-new', 1)], 0).rows).toBe(1);
    db.close();
  });
});

describe('SQLite batch insert, in a pipeline', () => {
  const scene = useScenes();

  it('dead-letters the two records SQLite refuses inside full multi-row statements and stores every batch-mate once', async () => {
    const s = scene();
    const db = new Database(s.dbPath);
    db.exec('CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL) STRICT');
    db.close();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 500 },
      sink: { type: 'sqlite', path: s.dbPath, table: 'stock', columns: { sku: 'id', qty: 'payload.qty' } },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const refused = new Set([ROWS_PER_STATEMENT * 2 + 5, ROWS_PER_STATEMENT * 4 + 17]);
    const events = Array.from({ length: 300 }, (_, i) => ({
      id: `sku-${String(i).padStart(3, '0')}`,
      payload: { qty: refused.has(i) ? 'many' : i },
    }));
    expect(await pipeline.pushMany(events)).toBe(300);
    await pipeline.drained();
    path = s.dbPath;
    expect(query<{ sku: string; qty: number }>('SELECT sku, qty FROM stock ORDER BY sku')).toEqual(
      events.filter((_, i) => !refused.has(i)).map((e) => ({ sku: e.id, qty: e.payload.qty as number })),
    );
    const letters = readDeadLetters(s.deadLetterPath);
    expect(letters.map((l) => l.id).sort()).toEqual([...refused].map((i) => events[i]!.id));
    expect(letters.every((l) => l.letter.reason === 'sink-rejected')).toBe(true);
  });
});

describe('the batch insert with hostile values', () => {
  it('stores each record once, its payload text byte for byte, whatever it holds, across statement sizes (many seeds)', async () => {
    const sink = await openSink();
    let deep = '0';
    for (let i = 0; i < 20_000; i++) deep = `[${deep}]`;
    const shapes = [
      (i: number) => `{"s":"a\\u0000b${i}"}`,
      (i: number) => `{"s":"x\\ud800y${i}"}`,
      (i: number) => `{"n":12345678901234567890123${i},"d":19.990000000000000001,"t":1e-400}`,
      () => deep,
      (i: number) => `{"key":"\\u0000","i":${i}}`,
    ];
    const expected = new Map<string, string>();
    for (let seed = 1; seed <= 8; seed++) {
      // A batch length straddling every statement size, shapes in a seed-dependent order.
      const length = ROWS_PER_STATEMENT * 2 + 8 + seed;
      const batch: SinkRecord[] = Array.from({ length }, (_, i) => {
        const id = `h-${seed}-${i}`;
        const json = shapes[(i * seed) % shapes.length]!(i);
        expected.set(id, json);
        return { id, key: `k\u0000${i % 3}`, payload: undefined, payloadJson: json };
      });
      await sink.write(batch);
    }
    const rows = query<{ id: string; payload: string; key: string }>('SELECT id, key, payload FROM events');
    expect(rows.length).toBe(expected.size);
    expect(new Map(rows.map((r) => [r.id, r.payload]))).toEqual(expected);
    expect(rows.every((r) => r.key.startsWith('k\u0000'))).toBe(true);
  });
});
