/**
 * What becomes of each event a PostgreSQL sink is given, as delivery settles it: stored in the
 * table, or dead-lettered with a reason and the server's words. Each batch goes through
 * deliverBatch exactly as a worker hands it over (split around records the server refuses alone,
 * retried when the failure is the sink's), against a real server, and the outcome is counted by
 * event id — what a run's summary alone ("5 written") cannot show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { type DeliveryHooks, deliverBatch } from '../../src/delivery/deliver-batch.js';
import { DEFAULT_RETRY_OPTIONS, type ResolvedRetryOptions } from '../../src/delivery/retry-options.js';
import { PostgresSink, type PostgresSinkOptions } from '../../src/sinks/postgres-sink.js';
import type { Sink } from '../../src/sinks/sink.js';
import { uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

announcePostgres('postgres-outcomes');

/** Quick retries, so a test that retries takes milliseconds. */
const RETRY: ResolvedRetryOptions = {
  ...DEFAULT_RETRY_OPTIONS,
  initialDelayMs: 5,
  maxDelayMs: 20,
  maxElapsedMs: 30_000,
};

/** A record as the engine hands it over: the payload with its JSON text, numbers as written. */
function record(id: string, payloadJson: string, extra: Partial<SinkRecord> = {}): SinkRecord {
  return { id, payload: JSON.parse(payloadJson), payloadJson, ...extra };
}

async function query<Row>(sql: string): Promise<Row[]> {
  return withClient(async (client) => (await client.query(sql)).rows as Row[]);
}

describe.skipIf(postgresSkip)('PostgresSink, each event stored or dead-lettered with its reason', () => {
  const tables: string[] = [];
  const sinks: PostgresSink[] = [];
  beforeAll(requirePostgres);
  afterAll(async () => {
    await Promise.all(sinks.map((sink) => sink.close()));
    // A test that failed may have left its table renamed away.
    for (const name of tables) for (const each of [name, `${name}_away`]) await dropTable(each);
  });

  /** A fresh table made by `create(name)`, dropped after the suite. */
  async function table(prefix: string, create: (name: string) => string): Promise<string> {
    const name = uniqueName(prefix);
    tables.push(name);
    await query(create(name));
    return name;
  }

  /** An open sink as a worker builds it, closed after the suite. */
  async function openSink(options: PostgresSinkOptions): Promise<PostgresSink> {
    const sink = new PostgresSink(
      resolveSinkSpec({ type: 'postgres', connectionString: POSTGRES_URL, ...options }),
    );
    await sink.open();
    sinks.push(sink);
    return sink;
  }

  /**
   * Delivery's sleep between retries, running `repair` (awaited) before the `at`th: what a table
   * changed under the sink looks like from inside one batch's retries, without a clock.
   */
  function repairedBefore(at: number, repair: () => Promise<unknown>): DeliveryHooks {
    let retries = 0;
    return {
      async sleep() {
        retries++;
        if (retries === at) await repair();
      },
    };
  }

  /** Delivers one batch; each dead letter as [id, reason], and how many were written. */
  async function deliver(
    sink: Sink,
    records: readonly SinkRecord[],
    hooks: DeliveryHooks = {},
    retry: ResolvedRetryOptions = RETRY,
  ) {
    const report = await deliverBatch(sink, records, retry, hooks);
    return {
      written: report.written,
      retries: report.retries,
      dead: report.deadLetters.map((letter) => [letter.event.id, letter.reason]),
      errors: new Map(report.deadLetters.map((letter) => [letter.event.id, letter.lastError])),
    };
  }

  /** `sink`, counting the writes delivery makes (a batch split around a refused record takes several). */
  function counting(sink: Sink): Sink & { writes: number } {
    const counted = {
      idempotent: sink.idempotent,
      writes: 0,
      open: () => sink.open(),
      close: () => sink.close(),
      write(records: readonly SinkRecord[]) {
        counted.writes++;
        return sink.write(records);
      },
    };
    return counted;
  }

  /** The event ids a table holds, sorted. */
  async function storedIds(name: string, column = 'event_id'): Promise<string[]> {
    const rows = await query<{ id: string }>(`SELECT "${column}" AS id FROM "${name}" ORDER BY 1`);
    return rows.map((row) => row.id);
  }

  describe('action update, a conflict target holding NULL', () => {
    it('stores every record whose target is NULL or missing, and one row per key', async () => {
      const orders = await table(
        'sluice_null_target',
        (t) => `CREATE TABLE "${t}" (order_id text UNIQUE, status text, event_id text)`,
      );
      const sink = await openSink({
        table: orders,
        columns: { order_id: 'payload.order', status: 'payload.status', event_id: 'id' },
        onConflict: { target: ['order_id'], action: 'update' },
      });
      const outcome = await deliver(sink, [
        record('e1', '{"order":"A","status":"new"}'),
        record('e2', '{"order":"A","status":"paid"}'),
        record('n1', '{"status":"x1"}'),
        record('n2', '{"status":"x2"}'),
        record('n3', '{"order":null,"status":"x3"}'),
      ]);
      expect(outcome).toMatchObject({ written: 5, dead: [] });
      // e1 is A's earlier state, updated by e2; n1, n2 and n3 each meet nothing.
      expect(await storedIds(orders)).toEqual(['e2', 'n1', 'n2', 'n3']);
      expect(await query(`SELECT status FROM "${orders}" WHERE order_id = 'A'`)).toEqual([
        { status: 'paid' },
      ]);
    });

    it('stores every record whose two-column target holds a NULL in either column', async () => {
      const pairs = await table(
        'sluice_null_pair',
        (t) => `CREATE TABLE "${t}" (a text, b int, v text, event_id text, UNIQUE (a, b))`,
      );
      const sink = await openSink({
        table: pairs,
        columns: { a: 'payload.a', b: 'payload.b', v: 'payload.v', event_id: 'id' },
        onConflict: { target: ['a', 'b'], action: 'update' },
      });
      const outcome = await deliver(sink, [
        record('k1', '{"a":"k","b":1,"v":"first"}'),
        record('k2', '{"a":"k","b":1,"v":"second"}'),
        record('kn1', '{"a":"k","b":null,"v":"x"}'),
        record('kn2', '{"a":"k","v":"y"}'),
        record('nn1', '{"v":"z"}'),
        record('n2', '{"b":2,"v":"w"}'),
        record('n3', '{"b":2,"v":"w"}'),
      ]);
      expect(outcome).toMatchObject({ written: 7, dead: [] });
      expect(await storedIds(pairs)).toEqual(['k2', 'kn1', 'kn2', 'n2', 'n3', 'nn1']);
    });

    it('keeps one row for NULL under a NULLS NOT DISTINCT index, the batch’s last (PostgreSQL 15+)', async (context) => {
      const [server] = await query<{ version: number }>(
        "SELECT current_setting('server_version_num')::int AS version",
      );
      // NULLS NOT DISTINCT exists from PostgreSQL 15 on: an older server cannot make such an index.
      if (server!.version < 150_000) {
        console.warn(`skipped: PostgreSQL ${server!.version} has no NULLS NOT DISTINCT (15+)`);
        context.skip();
      }
      const codes = await table(
        'sluice_nulls_equal',
        (t) => `CREATE TABLE "${t}" (code text, v text, event_id text, UNIQUE NULLS NOT DISTINCT (code))`,
      );
      const sink = await openSink({
        table: codes,
        columns: { code: 'payload.code', v: 'payload.v', event_id: 'id' },
        onConflict: { target: ['code'], action: 'update' },
      });
      const outcome = await deliver(sink, [
        record('a1', '{"v":"first"}'),
        record('k1', '{"code":"K","v":"x"}'),
        record('a2', '{"code":null,"v":"second"}'),
      ]);
      expect(outcome).toMatchObject({ written: 3, dead: [] });
      expect(await query(`SELECT code, v, event_id FROM "${codes}" ORDER BY code`)).toEqual([
        { code: 'K', v: 'x', event_id: 'k1' },
        { code: null, v: 'second', event_id: 'a2' },
      ]);
    });
  });

  describe('action update, keys the unique index takes as one', () => {
    /** 50 keys K0…K49, and at 10 and 11 two records whose keys differ only in case. */
    const batch = () => {
      const records = Array.from({ length: 50 }, (_, i) => record(`ok${i}`, `{"code":"K${i}","v":"x"}`));
      records.splice(
        10,
        0,
        record('c1', '{"code":"ABC","v":"first"}'),
        record('c2', '{"code":"abc","v":"second"}'),
      );
      return records;
    };
    const okIds = Array.from({ length: 50 }, (_, i) => `ok${i}`);

    it('upserts keys equal in the index’s case-insensitive collation in one write, the batch’s last winning', async (context) => {
      const [icu] = await query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_collation WHERE collprovider = 'i'",
      );
      // A case-insensitive collation needs ICU: a server built without it has none to make.
      if (icu!.n === 0) {
        console.warn('skipped: this PostgreSQL has no ICU collations (built without ICU)');
        context.skip();
      }
      const collation = uniqueName('sluice_ci');
      await query(
        `CREATE COLLATION "${collation}" (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
      );
      try {
        const codes = await table(
          'sluice_ci_key',
          (t) => `CREATE TABLE "${t}" (code text COLLATE "${collation}" PRIMARY KEY, v text, event_id text)`,
        );
        const sink = counting(
          await openSink({
            table: codes,
            columns: { code: 'payload.code', v: 'payload.v', event_id: 'id' },
            onConflict: { target: ['code'], action: 'update' },
          }),
        );
        const outcome = await deliver(sink, batch());
        expect(outcome).toMatchObject({ written: 52, dead: [] });
        // One statement took the batch: nothing was split apart to get it through.
        expect(sink.writes).toBe(1);
        expect(await storedIds(codes)).toEqual(['c2', ...okIds].sort());
        expect(await query(`SELECT code, v FROM "${codes}" WHERE code = 'aBc'`)).toEqual([
          { code: 'abc', v: 'second' },
        ]);
      } finally {
        await dropTable(tables.pop()!);
        await query(`DROP COLLATION "${collation}"`);
      }
    });

    it('splits a batch the server refuses for meeting one row twice, rather than dead-lettering it whole', async () => {
      // A trigger folding the key to lower case: the sink sees two keys, the index one.
      const codes = await table(
        'sluice_folded_key',
        (t) => `CREATE TABLE "${t}" (code text PRIMARY KEY, v text, event_id text);
          CREATE FUNCTION "${t}_fold"() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN NEW.code := lower(NEW.code); RETURN NEW; END $$;
          CREATE TRIGGER fold BEFORE INSERT ON "${t}" FOR EACH ROW EXECUTE FUNCTION "${t}_fold"()`,
      );
      try {
        const sink = await openSink({
          table: codes,
          columns: { code: 'payload.code', v: 'payload.v', event_id: 'id' },
          onConflict: { target: ['code'], action: 'update' },
        });
        const outcome = await deliver(sink, batch());
        expect(outcome).toMatchObject({ written: 52, dead: [] });
        expect(await storedIds(codes)).toEqual(['c2', ...okIds].sort());
        expect(await query(`SELECT v FROM "${codes}" WHERE code = 'abc'`)).toEqual([{ v: 'second' }]);
      } finally {
        await dropTable(tables.pop()!);
        await query(`DROP FUNCTION "${codes}_fold"()`);
      }
    });
  });

  describe('a value its column refuses', () => {
    const columns = {
      event_id: 'id',
      qty: 'payload.qty',
      price: 'payload.price',
      note: 'payload.note',
      memo: 'payload.memo',
      doc: 'payload.doc',
      label: 'payload.label',
      code: 'payload.code',
    };
    const create = (t: string) =>
      `CREATE TABLE "${t}" (event_id text PRIMARY KEY, qty int4, price int4, note text, memo text,
        doc jsonb, label varchar(4), code char(3))`;
    const PREFIX = 'SinkError [SLUICE_SINK_ERROR]: postgres: write failed: ';
    const NUL = 'holds NUL (U+0000), which PostgreSQL cannot store in text or jsonb';
    /** Each refused record and the words its dead letter carries: the column, and the value. */
    const refused = new Map([
      ['q', ['{"qty":"12","price":"abc"}', 'column price: invalid input syntax for type integer: "abc"']],
      ['p', ['{"qty":"abc","price":"12"}', 'column qty: invalid input syntax for type integer: "abc"']],
      ['big', ['{"qty":3000000000}', 'column qty: value "3000000000" is out of range for type integer']],
      [
        'long',
        ['{"label":"abcdef"}', 'column label: value too long for type character varying(4), got "abcdef"'],
      ],
      // Refused rather than cut to "abc", as a cast to character(3) would.
      ['wide', ['{"code":"abcd"}', 'column code: value too long for type character(3), got "abcd"']],
      [
        'm',
        [
          '{"note":"ok","memo":"a\\u0000b"}',
          `invalid byte sequence for encoding "UTF8": 0x00: column memo ${NUL}`,
        ],
      ],
      [
        'd',
        [
          '{"note":"ok","doc":{"k":"\\u0000"}}',
          `unsupported Unicode escape sequence (\\u0000 cannot be converted to text.): column doc ${NUL}`,
        ],
      ],
    ]);
    const batch = () => [
      record('ok1', '{"qty":1,"price":2,"note":"n","memo":"m","doc":{"a":1},"label":"abcd","code":"ab"}'),
      ...[...refused].flatMap(([id, [json]], i) => [record(id, json!), record(`ok-${i}`, '{"qty":5}')]),
    ];

    it.each([
      ['straight into the table', false],
      ['through the staging table', true],
    ])('is dead-lettered alone, naming the column and the value, %s', async (_, staged) => {
      const values = await table('sluice_refused', create);
      const sink = await openSink({ table: values, columns });
      if (staged) {
        // A batch meeting a stored key: the next ones go through the staging table.
        await sink.write([record('seen', '{}')]);
        await sink.write([record('seen', '{}')]);
      }
      const outcome = await deliver(sink, batch());
      expect(outcome.dead).toEqual([...refused.keys()].map((id) => [id, 'sink-rejected']));
      expect(outcome.errors).toEqual(
        new Map([...refused].map(([id, [, words]]) => [id, `${PREFIX}${words}`])),
      );
      expect(await storedIds(values)).toEqual(
        [...(staged ? ['seen'] : []), 'ok1', ...[...refused.keys()].map((_, i) => `ok-${i}`)].sort(),
      );
    });
  });

  it('stores an epoch-milliseconds number in a timestamptz column on the microsecond its digits round to', async () => {
    const times = await table(
      'sluice_epoch',
      (t) => `CREATE TABLE "${t}" (event_id text PRIMARY KEY, at timestamptz)`,
    );
    const sink = await openSink({ table: times, columns: { event_id: 'id', at: 'payload.at' } });
    const written = new Map([
      ['r1', ['1.9996', '1970-01-01 00:00:00.002000']],
      ['r2', ['1700000000123.9997', '2023-11-14 22:13:20.124000']],
      ['r3', ['1.9994', '1970-01-01 00:00:00.001999']],
      ['r4', ['1700000000123.0005', '2023-11-14 22:13:20.123001']],
      ['r5', ['-1.9996', '1969-12-31 23:59:59.998000']],
    ]);
    const outcome = await deliver(
      sink,
      [...written].map(([id, [at]]) => record(id, `{"at":${at}}`)),
    );
    expect(outcome).toMatchObject({ written: 5, dead: [] });
    const rows = await query<{ event_id: string; at: string }>(
      `SELECT event_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at FROM "${times}" ORDER BY 1`,
    );
    expect(rows).toEqual([...written].map(([id, [, at]]) => ({ event_id: id, at })));
  });

  describe('a table changed under the running sink', () => {
    const ids = Array.from({ length: 20 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    const batch = () => ids.map((id, i) => record(id, `{"n":${i}.5}`));
    const rename = (from: string, to: string) => query(`ALTER TABLE "${from}" RENAME TO "${to}"`);

    it.each([
      [
        'the table is renamed away (42P01)',
        (t: string) => rename(t, `${t}_away`),
        (t: string) => rename(`${t}_away`, t),
      ],
      [
        'a mapped column is renamed away (42703)',
        (t: string) => query(`ALTER TABLE "${t}" RENAME COLUMN n TO n_away`),
        (t: string) => query(`ALTER TABLE "${t}" RENAME COLUMN n_away TO n`),
      ],
    ])('retries the whole batch while %s, and stores every event once it is back', async (_, away, back) => {
      const numbers = await table(
        'sluice_moved',
        (t) => `CREATE TABLE "${t}" (event_id text PRIMARY KEY, n numeric)`,
      );
      const sink = await openSink({ table: numbers, columns: { event_id: 'id', n: 'payload.n' } });
      await away(numbers);
      const outcome = await deliver(
        sink,
        batch(),
        repairedBefore(3, () => back(numbers)),
      );
      expect(outcome).toMatchObject({ written: 20, retries: 3, dead: [] });
      expect(await storedIds(numbers)).toEqual(ids);
    });

    it('retries the envelope table’s batch while the table is renamed away, without creating another', async () => {
      const events = uniqueName('sluice_moved_events');
      tables.push(events);
      const sink = await openSink({ table: events });
      await rename(events, `${events}_away`);
      let createdMeanwhile: unknown;
      const outcome = await deliver(
        sink,
        batch(),
        repairedBefore(3, async () => {
          const [found] = await query<{ t: string | null }>(`SELECT to_regclass('"${events}"') AS t`);
          createdMeanwhile = found!.t;
          await rename(`${events}_away`, events);
        }),
      );
      expect(createdMeanwhile).toBeNull();
      expect(outcome).toMatchObject({ written: 20, retries: 3, dead: [] });
      expect(await storedIds(events, 'id')).toEqual(ids);
    });

    it('dead-letters the batch as retries-exhausted, naming the table, once retry.maxElapsedMs runs out', async () => {
      const numbers = await table(
        'sluice_gone',
        (t) => `CREATE TABLE "${t}" (event_id text PRIMARY KEY, n numeric)`,
      );
      const sink = await openSink({ table: numbers, columns: { event_id: 'id', n: 'payload.n' } });
      await rename(numbers, `${numbers}_away`);
      try {
        const outcome = await deliver(sink, batch(), {}, { ...RETRY, maxElapsedMs: 100 });
        expect(outcome.retries).toBeGreaterThan(0);
        expect(outcome.dead).toEqual(ids.map((id) => [id, 'retries-exhausted']));
        expect(new Set(outcome.errors.values())).toEqual(
          new Set([
            `SinkError [SLUICE_SINK_ERROR]: postgres: write failed: relation "${numbers}" does not exist`,
          ]),
        );
      } finally {
        await rename(`${numbers}_away`, numbers);
      }
    });
  });
});
