import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { PostgresSink, type PostgresSinkOptions } from '../../src/sinks/postgres-sink.js';
import { uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';
import { runSinkCompliance } from '../helpers/sink-compliance.js';

announcePostgres('postgres-columns');

/** A sink built as a worker builds it: from the resolved spec. */
const postgresSink = (options: PostgresSinkOptions) =>
  new PostgresSink(resolveSinkSpec({ type: 'postgres', connectionString: POSTGRES_URL, ...options }));

/** A record as the engine hands it over: the payload with its JSON text, numbers as written. */
function record(id: string, payloadJson: string, extra: Partial<SinkRecord> = {}): SinkRecord {
  return { id, payload: JSON.parse(payloadJson), payloadJson, ...extra };
}

async function query<Row>(sql: string): Promise<Row[]> {
  return withClient(async (client) => (await client.query(sql)).rows as Row[]);
}

const tables: string[] = [];
/** A fresh table made by `create(name)`, dropped after the suite. */
async function table(prefix: string, create: (name: string) => string): Promise<string> {
  const name = uniqueName(prefix);
  tables.push(name);
  await query(create(name));
  return name;
}

const ORDER_COLUMNS = { order_id: 'payload.order', status: 'payload.status', amount: 'payload.amount' };

describe.skipIf(postgresSkip)('PostgresSink writing into its own table through columns', () => {
  const events = uniqueName('sluice_mapped');
  tables.push(events);
  const eventColumns = { event_id: 'id', k: 'key', at: 'ts', i: 'payload.i', doc: 'payload.nested' };
  let blocker: pg.Client | undefined;
  beforeAll(async () => {
    requirePostgres();
    await query(
      `CREATE TABLE "${events}" (event_id text PRIMARY KEY, k text, at timestamptz, i bigint, doc jsonb)`,
    );
  });
  afterAll(async () => {
    for (const name of tables) await dropTable(name);
  });

  runSinkCompliance(
    () => postgresSink({ table: events, columns: eventColumns }),
    async () =>
      (await query<{ event_id: string }>(`SELECT event_id FROM "${events}"`)).map((row) => row.event_id),
    {
      name: 'PostgreSQL, mapped columns',
      failures: [
        {
          description: 'the server is unreachable',
          failsAt: 'open',
          makeSink: () =>
            postgresSink({
              connectionString: 'postgres://postgres@127.0.0.1:1/test',
              table: events,
              columns: eventColumns,
            }),
        },
        {
          description: 'another session locks the table past the statement timeout',
          makeSink: () => postgresSink({ table: events, columns: eventColumns, statementTimeoutMs: 200 }),
          async breakIt() {
            blocker = new pg.Client({ connectionString: POSTGRES_URL });
            await blocker.connect();
            await blocker.query('BEGIN');
            await blocker.query(`LOCK TABLE "${events}" IN ACCESS EXCLUSIVE MODE`);
          },
          async repair() {
            await blocker?.query('COMMIT');
            await blocker?.end();
            blocker = undefined;
          },
        },
      ],
    },
  );

  it('upserts orders so each key holds its last value, and writing the same events again changes nothing', async () => {
    const orders = await table(
      'sluice_orders',
      (t) => `CREATE TABLE "${t}" (order_id integer PRIMARY KEY, status text NOT NULL, amount numeric(12,2))`,
    );
    const sink = postgresSink({
      table: orders,
      columns: ORDER_COLUMNS,
      onConflict: { target: ['order_id'], action: 'update' },
    });
    // The first batch holds order 1 three times and order 2 twice; the second corrects 2 and 3.
    const first = [
      record('e1', '{"order":1,"status":"new","amount":10}'),
      record('e2', '{"order":2,"status":"new","amount":20}'),
      record('e3', '{"order":1,"status":"paid","amount":10}'),
      record('e4', '{"order":3,"status":"new","amount":30}'),
      record('e5', '{"order":2,"status":"paid","amount":21.5}'),
      record('e6', '{"order":1,"status":"shipped","amount":10.25}'),
    ];
    const second = [
      record('e7', '{"order":2,"status":"refunded","amount":0}'),
      record('e8', '{"order":3,"status":"cancelled","amount":null}'),
      record('e9', '{"order":4,"status":"new","amount":40}'),
    ];
    const expected = [
      { order_id: 1, status: 'shipped', amount: '10.25' },
      { order_id: 2, status: 'refunded', amount: '0.00' },
      { order_id: 3, status: 'cancelled', amount: null },
      { order_id: 4, status: 'new', amount: '40.00' },
    ];
    const read = () => query(`SELECT order_id, status, amount FROM "${orders}" ORDER BY order_id`);
    await sink.open();
    try {
      await sink.write(first);
      await sink.write(second);
      expect(await read()).toEqual(expected);
      await sink.write(first);
      await sink.write(second);
      expect(await read()).toEqual(expected);
    } finally {
      await sink.close();
    }
  });

  it('copies text with tabs, newlines, backslashes and \\N as it is, whether a batch goes straight in or through staging', async () => {
    const notes = await table(
      'sluice_notes',
      (t) => `CREATE TABLE "${t}" (id text PRIMARY KEY, note text, n numeric)`,
    );
    const sink = postgresSink({ table: notes, columns: { id: 'id', note: 'payload.note', n: 'payload.n' } });
    const texts = ['a\tb', 'line\nnext', 'cr\rlf', 'back\\slash', '\\N', '\\.', '', 'é € 😀'];
    const batch = (prefix: string) =>
      texts.map((note, i) =>
        // Written as text: 12345678901234567890 is no JavaScript number.
        record(
          `${prefix}-${i}`,
          `{"note":${JSON.stringify(note)},"n":${i === 0 ? 'null' : '12345678901234567890'}}`,
        ),
      );
    await sink.open();
    try {
      await sink.write(batch('a')); // a new table: straight in
      await sink.write([...batch('a'), ...batch('b')]); // meets stored ids: through staging
      const rows = await query<{ id: string; note: string; n: string | null }>(
        `SELECT id, note, n::text AS n FROM "${notes}" ORDER BY id`,
      );
      const want = (prefix: string) =>
        texts.map((note, i) => ({ id: `${prefix}-${i}`, note, n: i === 0 ? null : '12345678901234567890' }));
      expect(rows).toEqual([...want('a'), ...want('b')].sort((x, y) => (x.id < y.id ? -1 : 1)));
    } finally {
      await sink.close();
    }
  });

  it('keeps the row stored first with the default on-conflict action, the column mapped from id the key', async () => {
    const seen = await table('sluice_seen', (t) => `CREATE TABLE "${t}" (event_id text PRIMARY KEY, n int)`);
    const sink = postgresSink({ table: seen, columns: { event_id: 'id', n: 'payload.n' } });
    await sink.open();
    try {
      await sink.write([record('a', '{"n":1}'), record('b', '{"n":2}'), record('a', '{"n":3}')]);
      await sink.write([record('b', '{"n":4}'), record('c', '{"n":5}')]);
    } finally {
      await sink.close();
    }
    expect(await query(`SELECT event_id, n FROM "${seen}" ORDER BY event_id`)).toEqual([
      { event_id: 'a', n: 1 },
      { event_id: 'b', n: 2 },
      { event_id: 'c', n: 5 },
    ]);
  });

  it.each([
    ['straight into the table', 1],
    // The record twice: the direct COPY meets its own key, and the batch is staged (DO NOTHING).
    ['through the staging table', 2],
  ])(
    'stores numbers exact, ts as a time, objects as jsonb, strings and booleans as the columns convert them, %s',
    async (_, copies) => {
      const values = await table(
        'sluice_values',
        (t) => `CREATE TABLE "${t}" (
        id text PRIMARY KEY, big numeric, fine numeric, at timestamptz, local timestamp, day date,
        doc jsonb, label jsonb, flag boolean, note varchar(20), missing text)`,
      );
      const sink = postgresSink({
        table: values,
        columns: {
          id: 'id',
          big: 'payload.big',
          fine: 'payload.fine',
          at: 'ts',
          local: 'payload.local',
          day: 'payload.day',
          doc: 'payload.doc',
          label: 'payload.label',
          flag: 'payload.flag',
          note: 'payload.note',
          missing: 'payload.nowhere',
        },
      });
      await sink.open();
      try {
        const v1 = record(
          'v1',
          '{"big":12345678901234567890,"fine":19.990000000000000001,"local":1700000000123.5,' +
            '"day":"2024-02-29","doc":{"k":[1,2.50,{"deep":"é"}]},"label":"plain text","flag":true,' +
            '"note":"tab\\there, back\\\\slash"}',
          { ts: 1_700_000_000_123 },
        );
        await sink.write(Array.from({ length: copies }, () => v1));
      } finally {
        await sink.close();
      }
      const [row] = await query<Record<string, unknown>>(
        `SELECT big::text, fine::text, extract(epoch from at) * 1000 AS at_ms, local::text, day::text,
              doc::text, label, flag, note, missing FROM "${values}"`,
      );
      expect(row).toEqual({
        big: '12345678901234567890',
        fine: '19.990000000000000001',
        at_ms: '1700000000123.000000',
        local: '2023-11-14 22:13:20.1235',
        day: '2024-02-29',
        doc: '{"k": [1, 2.50, {"deep": "é"}]}',
        label: 'plain text',
        flag: true,
        note: 'tab\there, back\\slash',
        missing: null,
      });
    },
  );

  it('refuses a value its column refuses as that record’s own fault, with the server’s message', async () => {
    const counts = await table(
      'sluice_counts',
      (t) => `CREATE TABLE "${t}" (id text PRIMARY KEY, n integer)`,
    );
    const sink = postgresSink({ table: counts, columns: { id: 'id', n: 'payload.n' } });
    await sink.open();
    try {
      await expect(sink.write([record('ok', '{"n":1}'), record('bad', '{"n":"abc"}')])).rejects.toMatchObject(
        {
          code: 'SLUICE_SINK_ERROR',
          retryable: false,
          perRecord: true,
          message: expect.stringContaining('invalid input syntax for type integer: "abc"'),
        },
      );
      expect(await query(`SELECT id FROM "${counts}"`)).toEqual([]);
      // The batch failed whole; alone, the good record is stored.
      await sink.write([record('ok', '{"n":1}')]);
      expect(await query(`SELECT id, n FROM "${counts}"`)).toEqual([{ id: 'ok', n: 1 }]);
    } finally {
      await sink.close();
    }
  });

  it('refuses a value too long for its column’s length rather than cutting it', async () => {
    const codes = await table(
      'sluice_codes',
      (t) => `CREATE TABLE "${t}" (id text PRIMARY KEY, code char(3), label varchar(4), bits bit(3))`,
    );
    const sink = postgresSink({
      table: codes,
      columns: { id: 'id', code: 'payload.code', label: 'payload.label', bits: 'payload.bits' },
    });
    await sink.open();
    try {
      await sink.write([record('fits', '{"code":"ab","label":"abcd","bits":"101"}')]);
      for (const [id, json, column, type, value] of [
        ['long-char', '{"code":"abcd"}', 'code', 'character(3)', 'abcd'],
        ['long-varchar', '{"label":"abcde"}', 'label', 'character varying(4)', 'abcde'],
      ]) {
        await expect(sink.write([record(id!, json!)])).rejects.toMatchObject({
          retryable: false,
          perRecord: true,
          message: `postgres: write failed: column ${column}: value too long for type ${type}, got "${value}"`,
        });
      }
    } finally {
      await sink.close();
    }
    expect(await query(`SELECT id, code, label, bits::text FROM "${codes}"`)).toEqual([
      { id: 'fits', code: 'ab ', label: 'abcd', bits: '101' },
    ]);
  });

  describe('at open, before any event', () => {
    it('refuses a table that does not exist, naming it, and creates nothing', async () => {
      const name = uniqueName('sluice_absent');
      tables.push(name);
      const sink = postgresSink({ table: name, columns: { id: 'id' } });
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: `postgres: table "${name}" does not exist (with columns, Sluice writes into a table you create)`,
      });
      expect(await query(`SELECT to_regclass('"${name}"') AS t`)).toEqual([{ t: null }]);
    });

    it('refuses a mapped column the table lacks, naming it and its path', async () => {
      const name = await table('sluice_cols', (t) => `CREATE TABLE "${t}" (id text PRIMARY KEY)`);
      const sink = postgresSink({ table: name, columns: { id: 'id', amount: 'payload.amount' } });
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: `postgres: table "${name}" has no column "amount" (mapped from payload.amount)`,
      });
    });

    it.each([
      ['a generated', 'n int GENERATED ALWAYS AS (1) STORED'],
      ['an identity always', 'n int GENERATED ALWAYS AS IDENTITY'],
    ])('refuses a mapped column the server computes (%s), naming it', async (kind, declaration) => {
      const name = await table(
        'sluice_computed',
        (t) => `CREATE TABLE "${t}" (id text PRIMARY KEY, ${declaration})`,
      );
      const sink = postgresSink({ table: name, columns: { id: 'id', n: 'payload.n' } });
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: `postgres: table "${name}" column "n" is ${kind} column: it cannot be mapped`,
      });
    });

    it.each([
      ['no index at all', (t: string) => `CREATE TABLE "${t}" (id text, k text)`],
      [
        'an index that is not unique',
        (t: string) => `CREATE TABLE "${t}" (id text, k text); CREATE INDEX ON "${t}" (k)`,
      ],
      [
        'a unique index on more columns',
        (t: string) => `CREATE TABLE "${t}" (id text, k text UNIQUE, UNIQUE (k, id))`,
      ],
      [
        'a partial unique index',
        (t: string) =>
          `CREATE TABLE "${t}" (id text, k text); CREATE UNIQUE INDEX ON "${t}" (k) WHERE k <> ''`,
      ],
    ])('refuses a conflict target with %s on exactly it, naming the target', async (_, create) => {
      const name = await table('sluice_target', create);
      const sink = postgresSink({
        table: name,
        columns: { id: 'id', k: 'key' },
        onConflict: { target: ['id'], action: 'update' },
      });
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: `postgres: table "${name}" has no unique index or primary key on exactly (id), the onConflict target`,
      });
    });

    it('accepts a target that is a unique index’s columns in any order', async () => {
      const name = await table(
        'sluice_pair',
        (t) => `CREATE TABLE "${t}" (a text, b text, v int, UNIQUE (b, a))`,
      );
      const sink = postgresSink({
        table: name,
        columns: { a: 'key', b: 'source', v: 'payload.v' },
        onConflict: { target: ['a', 'b'], action: 'update' },
      });
      await sink.open();
      try {
        await sink.write([
          record('1', '{"v":1}', { key: 'k', source: 's' }),
          record('2', '{"v":2}', { key: 'k', source: 's' }),
        ]);
      } finally {
        await sink.close();
      }
      expect(await query(`SELECT a, b, v FROM "${name}"`)).toEqual([{ a: 'k', b: 's', v: 2 }]);
    });
  });
});

describe('postgres sink columns and onConflict options', () => {
  const valid = { type: 'postgres', connectionString: 'postgres://postgres@127.0.0.1:5432/test' } as const;
  const resolve = (spec: Record<string, unknown>) => () =>
    resolveSinkSpec({ ...valid, ...spec } as never, 'sink');

  it('resolve the conflict target to the column mapped from id when none is given', () => {
    expect(
      resolveSinkSpec({ ...valid, table: 'orders', columns: { order_id: 'id', n: 'payload.n' } }),
    ).toMatchObject({
      columns: { order_id: 'id', n: 'payload.n' },
      onConflict: { target: ['order_id'], action: 'nothing' },
    });
  });

  it('leave the envelope table’s options as they were without columns', () => {
    const resolved = resolveSinkSpec(valid);
    expect('columns' in resolved || 'onConflict' in resolved).toBe(false);
  });

  it.each([
    [
      'a conflict target that is not a mapped column',
      { columns: { a: 'id', b: 'payload.b' }, onConflict: { target: ['c'] } },
      'sink.onConflict must be a target made of mapped columns (a, b), not c, got {"target":["c"]}',
    ],
    [
      'onConflict without columns',
      { onConflict: { target: ['id'] } },
      'sink.onConflict must be set only with columns (the envelope table conflicts on id), got {"target":["id"]}',
    ],
    [
      'no target while no column is mapped from id',
      { columns: { b: 'payload.b' } },
      'sink.onConflict must be set when no column is mapped from id: the unique key a redelivered event meets, got undefined',
    ],
    [
      'a path that is not into the event',
      { columns: { a: 'id', b: 'body.b' } },
      'sink.columns.b must be a path starting with id, key, source, ts or payload, got "body.b"',
    ],
    [
      'a path with an empty segment',
      { columns: { a: 'id', b: 'payload..b' } },
      'sink.columns.b must be a path without empty segments (payload.a.b), got "payload..b"',
    ],
    [
      'an action that is not nothing or update',
      { columns: { a: 'id' }, onConflict: { target: ['a'], action: 'replace' } },
      'sink.onConflict.action must be "nothing" or "update", got "replace"',
    ],
  ])('name the field and quote the value for %s', (_, spec, message) => {
    expect(resolve(spec)).toThrow(expect.objectContaining({ code: 'SLUICE_INVALID_OPTION', message }));
  });

  it('know no createTable option: the postgres sink creates only the envelope table, and only when it is missing', () => {
    expect(resolve({ columns: { a: 'id' }, createTable: true })).toThrow(
      /^sink\.createTable is not a known field/,
    );
  });
});
