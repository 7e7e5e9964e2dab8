/**
 * The SQLite sink writing into the user's own table: columns mapped from event fields, conflicts
 * resolved on the table's own unique key, refusals of one record dead-lettered alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { SqliteSink, type SqliteSinkOptions } from '../../src/sinks/sqlite-sink.js';
import { readDeadLetters, useScenes } from '../helpers/engine.js';
import { runSinkCompliance } from '../helpers/sink-compliance.js';

const root = mkdtempSync(join(tmpdir(), 'sluice-sqlite-mapped-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let path: string;
let n = 0;
beforeEach(() => {
  path = join(root, `mapped-${++n}.db`);
});

/** Runs `sql` on the database file through a connection of its own. */
function exec(sql: string): void {
  const db = new Database(path);
  db.exec(sql);
  db.close();
}

function query<Row>(sql: string): Row[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).safeIntegers().all() as Row[];
  } finally {
    db.close();
  }
}

const ORDERS = `CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  customer TEXT NOT NULL,
  amount NUMERIC,
  status TEXT,
  event_id TEXT
)`;

const ORDER_COLUMNS = {
  order_id: 'key',
  customer: 'payload.customer.name',
  amount: 'payload.amount',
  status: 'payload.status',
  event_id: 'id',
};

const sinks: SqliteSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((sink) => sink.close()));
});

function sink(options: Omit<SqliteSinkOptions, 'path'>): SqliteSink {
  const built = new SqliteSink(resolveSinkSpec({ type: 'sqlite', path, ...options }));
  sinks.push(built);
  return built;
}

const compliancePath = join(root, 'compliance.db');
{
  const db = new Database(compliancePath);
  db.exec('CREATE TABLE seen (event_id TEXT PRIMARY KEY, k TEXT, body TEXT NOT NULL)');
  db.close();
}
const seenSink = (busyTimeoutMs?: number) =>
  new SqliteSink(
    resolveSinkSpec({
      type: 'sqlite',
      path: compliancePath,
      table: 'seen',
      columns: { event_id: 'id', k: 'key', body: 'payload' },
      ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
    }),
  );
let blocker: Database.Database | undefined;

runSinkCompliance(
  () => seenSink(),
  async () => {
    const db = new Database(compliancePath, { readonly: true });
    try {
      return (db.prepare('SELECT event_id FROM seen').all() as { event_id: string }[]).map((r) => r.event_id);
    } finally {
      db.close();
    }
  },
  {
    name: 'SQLite into the user table',
    failures: [
      {
        description: 'another connection holds the write lock past the busy timeout',
        makeSink: () => seenSink(20),
        breakIt() {
          blocker = new Database(compliancePath);
          blocker.exec('BEGIN EXCLUSIVE');
        },
        repair() {
          blocker?.exec('COMMIT');
          blocker?.close();
          blocker = undefined;
        },
      },
    ],
  },
);

/** An order event: `key` is the order, the payload its state at that moment. */
function order(id: string, orderId: string, amount: number | string, status: string): SinkRecord {
  const payload = { customer: { name: `c-${orderId}` }, amount, status };
  return { id, key: orderId, payload };
}

describe('SQLite sink into the user table', () => {
  it('keeps the last value of each key when later events correct earlier ones, and a second write changes nothing', async () => {
    exec(ORDERS);
    const s = sink({
      table: 'orders',
      columns: ORDER_COLUMNS,
      onConflict: { target: ['order_id'], action: 'update' },
    });
    await s.open();
    const events = [
      order('e1', 'o1', 10, 'new'),
      order('e2', 'o2', 20, 'new'),
      order('e3', 'o1', 11, 'paid'),
      order('e4', 'o3', 30, 'new'),
      order('e5', 'o2', 19.5, 'corrected'),
      order('e6', 'o1', 12, 'shipped'),
    ];
    await s.write(events.slice(0, 4));
    await s.write(events.slice(4));
    const expected = [
      { order_id: 'o1', customer: 'c-o1', amount: 12n, status: 'shipped', event_id: 'e6' },
      { order_id: 'o2', customer: 'c-o2', amount: 19.5, status: 'corrected', event_id: 'e5' },
      { order_id: 'o3', customer: 'c-o3', amount: 30n, status: 'new', event_id: 'e4' },
    ];
    const read = () => query('SELECT * FROM orders ORDER BY order_id');
    expect(read()).toEqual(expected);
    await s.write(events.slice(0, 4));
    await s.write(events.slice(4));
    await s.write(events);
    expect(read()).toEqual(expected);
  });

  it('leaves the stored row as it is with action nothing, and conflicts on the column mapped from id by default', async () => {
    exec('CREATE TABLE seen (event_id TEXT PRIMARY KEY, amount INTEGER)');
    const s = sink({ table: 'seen', columns: { event_id: 'id', amount: 'payload.amount' } });
    await s.open();
    await s.write([order('e1', 'o1', 1, 'new')]);
    await s.write([order('e1', 'o1', 2, 'new'), order('e2', 'o1', 3, 'new')]);
    expect(query('SELECT * FROM seen ORDER BY event_id')).toEqual([
      { event_id: 'e1', amount: 1n },
      { event_id: 'e2', amount: 3n },
    ]);
  });

  it('keeps a number a number and a string a string in a STRICT table’s ANY column', async () => {
    exec('CREATE TABLE a (id TEXT PRIMARY KEY, v ANY, w ANY) STRICT');
    const s = sink({ table: 'a', columns: { id: 'id', v: 'payload.v', w: 'payload.w' } });
    await s.open();
    await s.write([
      {
        id: 'a1',
        payload: { v: 9007199254740993n, w: '7' },
        payloadJson: '{"v": 9007199254740993, "w": "7"}',
      },
    ]);
    expect(query('SELECT v, typeof(v) AS vt, w, typeof(w) AS wt FROM a')).toEqual([
      { v: 9007199254740993n, vt: 'integer', w: '7', wt: 'text' },
    ]);
  });

  it('binds each value as the column would hold it: numbers exact through the column affinity, booleans 1/0, objects as JSON, absent as NULL', async () => {
    exec(`CREATE TABLE v (
      id TEXT PRIMARY KEY, big INTEGER, dec NUMERIC, r REAL, t TEXT, untyped, flag INTEGER,
      obj TEXT, missing TEXT, ts INTEGER, src TEXT
    )`);
    const s = sink({
      table: 'v',
      columns: {
        id: 'id',
        big: 'payload.big',
        dec: 'payload.dec',
        r: 'payload.r',
        t: 'payload.t',
        untyped: 'payload.big',
        flag: 'payload.flag',
        obj: 'payload.obj',
        missing: 'payload.nope.deeper',
        ts: 'ts',
        src: 'source',
      },
    });
    await s.open();
    await s.write([
      {
        id: 'v1',
        ts: 1_700_000_000_123,
        payload: undefined,
        payloadJson:
          '{"big": 9007199254740993, "dec": 19.99, "r": 42, "t": 7, "flag": true, "obj": {"a": [1, 2.50]}}',
      },
    ]);
    expect(
      query(
        'SELECT big, typeof(big) AS bt, dec, r, typeof(r) AS rt, t, typeof(t) AS tt, untyped, typeof(untyped) AS ut, flag, obj, missing, ts, src FROM v',
      ),
    ).toEqual([
      {
        big: 9007199254740993n,
        bt: 'integer',
        dec: 19.99,
        r: 42,
        rt: 'real',
        t: '7',
        tt: 'text',
        untyped: 9007199254740993n,
        ut: 'integer',
        flag: 1n,
        obj: '{"a": [1, 2.50]}',
        missing: null,
        ts: 1_700_000_000_123n,
        src: null,
      },
    ]);
  });

  it('refuses a record a STRICT table cannot store with a permanent per-record SinkError carrying SQLite’s message', async () => {
    exec('CREATE TABLE s (id TEXT PRIMARY KEY, qty INTEGER) STRICT');
    const s = sink({ table: 's', columns: { id: 'id', qty: 'payload.qty' } });
    await s.open();
    await expect(s.write([{ id: 'bad', payload: { qty: 'many' } }])).rejects.toMatchObject({
      code: 'SLUICE_SINK_ERROR',
      retryable: false,
      perRecord: true,
      message: expect.stringContaining('cannot store TEXT value in INTEGER column s.qty'),
    });
    expect(query('SELECT * FROM s')).toEqual([]);
  });

  describe('refuses to open, naming what is missing', () => {
    const refusal = async (options: Omit<SqliteSinkOptions, 'path'>) => {
      const error = await sink(options)
        .open()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
      return (error as Error).message;
    };

    it('a table that does not exist, never creating it', async () => {
      exec('CREATE TABLE other (id TEXT PRIMARY KEY)');
      expect(await refusal({ table: 'orders', columns: { order_id: 'id' } })).toBe(
        `sqlite: table orders does not exist in ${path} (a mapped table is never created; create it first)`,
      );
      expect(query("SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([{ name: 'other' }]);
    });

    it('a database file that does not exist, never creating it', async () => {
      expect(await refusal({ table: 'orders', columns: { order_id: 'id' } })).toMatch(
        new RegExp(`^sqlite: cannot open ${path.replace(/[.\\]/g, '\\$&')}: `),
      );
    });

    it('a mapped column the table does not have', async () => {
      exec(ORDERS);
      expect(
        await refusal({ table: 'orders', columns: { ...ORDER_COLUMNS, discount: 'payload.discount' } }),
      ).toBe(
        'sqlite: table orders has no column discount (mapped from payload.discount); its columns: order_id, customer, amount, status, event_id',
      );
    });

    it('a conflict target that is not the primary key or a unique index', async () => {
      exec(ORDERS);
      expect(
        await refusal({
          table: 'orders',
          columns: ORDER_COLUMNS,
          onConflict: { target: ['event_id'], action: 'nothing' },
        }),
      ).toBe(
        'sqlite: table orders has no UNIQUE index or PRIMARY KEY on (event_id), the conflict target; create one: CREATE UNIQUE INDEX orders_event_id ON orders (event_id)',
      );
    });

    it('but takes a target that is exactly a unique index’s columns, in any order', async () => {
      exec(`${ORDERS}; CREATE UNIQUE INDEX orders_by_customer ON orders (customer, status)`);
      await sink({
        table: 'orders',
        columns: ORDER_COLUMNS,
        onConflict: { target: ['status', 'customer'], action: 'update' },
      }).open();
      exec(
        'CREATE TABLE partial_only (a TEXT, b TEXT); CREATE UNIQUE INDEX p ON partial_only (a) WHERE b IS NULL',
      );
      expect(
        await refusal({
          table: 'partial_only',
          columns: { a: 'id', b: 'key' },
          onConflict: { target: ['a'], action: 'nothing' },
        }),
      ).toMatch(/has no UNIQUE index or PRIMARY KEY on \(a\)/);
    });
  });

  describe('option validation', () => {
    const problem = (spec: Record<string, unknown>) => {
      try {
        resolveSinkSpec({ type: 'sqlite', path, ...spec } as never);
      } catch (error) {
        return (error as Error).message;
      }
      return 'no problem';
    };

    it('names the field and the value', () => {
      expect(problem({ columns: { event_id: 'id', order_id: 'payload.a..b' } })).toBe(
        'sink.columns.order_id must be a path without empty segments (payload.a.b), got "payload.a..b"',
      );
      expect(problem({ columns: { event_id: 'id', order_id: 'customer' } })).toBe(
        'sink.columns.order_id must be a path starting with id, key, source, ts or payload, got "customer"',
      );
      expect(problem({ columns: { amount: 'payload.amount' } })).toBe(
        'sink.onConflict must be set when no column is mapped from id: the unique key a redelivered event meets, got undefined',
      );
      expect(problem({ columns: { order_id: 'id' }, onConflict: { target: ['customer'] } })).toBe(
        'sink.onConflict must be a target made of mapped columns (order_id), not customer, got {"target":["customer"]}',
      );
      expect(
        problem({ columns: { order_id: 'id' }, onConflict: { target: ['order_id'], action: 'replace' } }),
      ).toBe('sink.onConflict.action must be "nothing" or "update", got "replace"');
      expect(problem({ onConflict: { target: ['id'] } })).toBe(
        'sink.onConflict must be set only with columns (the envelope table conflicts on id), got {"target":["id"]}',
      );
    });

    it('resolves the conflict target to the column mapped from id when none is given', () => {
      expect(
        resolveSinkSpec({ type: 'sqlite', path, table: 'orders', columns: { order_id: 'id' } }),
      ).toMatchObject({
        columns: { order_id: 'id' },
        onConflict: { target: ['order_id'], action: 'nothing' },
      });
      expect(resolveSinkSpec({ type: 'sqlite', path })).not.toHaveProperty('columns');
    });
  });
});

describe('SQLite sink into the user table, in a pipeline', () => {
  const scene = useScenes();

  it('dead-letters the one record a STRICT table refuses, with SQLite’s message, and stores its batch-mates', async () => {
    const s = scene();
    path = s.dbPath;
    exec('CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL) STRICT');
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 64 },
      sink: { type: 'sqlite', path: s.dbPath, table: 'stock', columns: { sku: 'id', qty: 'payload.qty' } },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const events = Array.from({ length: 9 }, (_, i) => ({
      id: `sku-${i}`,
      payload: { qty: i === 4 ? 'four' : i },
    }));
    expect(await pipeline.pushMany(events)).toBe(9);
    await pipeline.drained();
    expect(query('SELECT sku, qty FROM stock ORDER BY sku')).toEqual(
      events.filter((_, i) => i !== 4).map((e) => ({ sku: e.id, qty: BigInt(e.payload.qty as number) })),
    );
    const letters = readDeadLetters(s.deadLetterPath);
    expect(letters.map((l) => l.id)).toEqual(['sku-4']);
    expect(letters[0]!.letter.reason).toBe('sink-rejected');
    expect(letters[0]!.letter.lastError).toContain('cannot store TEXT value in INTEGER column stock.qty');
  });

  it('dead-letters a record whose mapped string holds a lone surrogate, rather than storing U+FFFD, and stores the rest exactly', async () => {
    const s = scene();
    path = s.dbPath;
    exec('CREATE TABLE notes (id TEXT PRIMARY KEY, note TEXT, big INTEGER)');
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: {
        type: 'sqlite',
        path: s.dbPath,
        table: 'notes',
        columns: { id: 'id', note: 'payload.note', big: 'payload.big' },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    // Raw lines, each its event's payload: the integer beyond 2^53 reaches the sink as written.
    const lines = [
      '{"id":"n-0","note":"tab\\there","big":9007199254740993}',
      '{"id":"n-1","note":"lone \\ud800 surrogate","big":1}',
      '{"id":"n-2","note":"nul \\u0000 byte","big":2}',
    ];
    expect(await pipeline.pushRawMany(lines)).toBe(3);
    await pipeline.drained();
    expect(query('SELECT id, note, big FROM notes ORDER BY id')).toEqual([
      { id: 'n-0', note: 'tab\there', big: 9007199254740993n },
      { id: 'n-2', note: 'nul \u0000 byte', big: 2n },
    ]);
    const letters = readDeadLetters(s.deadLetterPath);
    expect(letters.map((l) => [l.id, l.letter.reason])).toEqual([['n-1', 'sink-rejected']]);
    expect(letters[0]!.letter.lastError).toContain('column note: a string holding a lone UTF-16 surrogate');
  });

  it('stores the last correction of each order, counted by key, and the same events pushed again change nothing', async () => {
    const s = scene();
    path = s.dbPath;
    exec(ORDERS);
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      ordering: 'key',
      sink: {
        type: 'sqlite',
        path: s.dbPath,
        table: 'orders',
        columns: ORDER_COLUMNS,
        onConflict: { target: ['order_id'], action: 'update' },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    // 40 orders, each corrected 5 times, the versions interleaved across orders.
    const events = [];
    for (let version = 0; version < 5; version++)
      for (let o = 0; o < 40; o++)
        events.push({
          id: `o${o}-v${version}`,
          key: `o${o}`,
          payload: { customer: { name: `c-o${o}` }, amount: o * 100 + version, status: `v${version}` },
        });
    const expected = Array.from({ length: 40 }, (_, o) => ({
      order_id: `o${o}`,
      amount: BigInt(o * 100 + 4),
      status: 'v4',
      event_id: `o${o}-v4`,
    })).sort((a, b) => a.order_id.localeCompare(b.order_id));
    const read = () => query('SELECT order_id, amount, status, event_id FROM orders ORDER BY order_id');
    for (const event of events) await pipeline.push(event);
    await pipeline.drained();
    expect(query('SELECT count(*) AS n, count(DISTINCT order_id) AS keys FROM orders')).toEqual([
      { n: 40n, keys: 40n },
    ]);
    expect(read()).toEqual(expected);
    expect(await pipeline.pushMany(events)).toBe(events.length);
    await pipeline.drained();
    expect(read()).toEqual(expected);
    expect(readDeadLetters(s.deadLetterPath)).toEqual([]);
  });
});
