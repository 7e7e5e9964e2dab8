import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSink } from '../../src/sinks/postgres-sink.js';
import { uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  readPostgresIds,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';
import { complianceBatch, runSinkCompliance } from '../helpers/sink-compliance.js';

announcePostgres('postgres-sink');

const table = uniqueName('sluice_sink');
let blocker: pg.Client | undefined;

describe.skipIf(postgresSkip)('PostgresSink against a real server', () => {
  beforeAll(requirePostgres);
  afterAll(async () => {
    await dropTable(table);
  });

  runSinkCompliance(
    () => new PostgresSink({ connectionString: POSTGRES_URL, table }),
    () => readPostgresIds(table),
    {
      name: 'PostgreSQL',
      failures: [
        {
          description: 'the server is unreachable',
          failsAt: 'open',
          makeSink: () =>
            new PostgresSink({ connectionString: 'postgres://postgres@127.0.0.1:1/test', table }),
        },
        {
          description: 'another session locks the table past the statement timeout',
          makeSink: () =>
            new PostgresSink({ connectionString: POSTGRES_URL, table, statementTimeoutMs: 200 }),
          async breakIt() {
            blocker = new pg.Client({ connectionString: POSTGRES_URL });
            await blocker.connect();
            await blocker.query('BEGIN');
            await blocker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
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

  it('rejects a record the database refuses with a permanent SinkError and stores nothing of its batch', async () => {
    const sink = new PostgresSink({ connectionString: POSTGRES_URL, table });
    await sink.open();
    try {
      const batch = complianceBatch(4, 'refused');
      // A payload of undefined serialises to nothing: the NOT NULL payload column refuses it.
      batch[2] = { ...batch[2]!, payload: undefined };
      await expect(sink.write(batch)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
      const found = new Set(await readPostgresIds(table));
      expect(batch.filter((r) => found.has(r.id))).toEqual([]);
    } finally {
      await sink.close();
    }
  });

  it('stores every field of a record, the payload as JSONB', async () => {
    const sink = new PostgresSink({ connectionString: POSTGRES_URL, table });
    await sink.open();
    const [record] = complianceBatch(1, 'fields');
    await sink.write([record!]);
    await sink.close();
    const row = await withClient(async (client) => {
      const result = await client.query(`SELECT id, key, source, ts, payload FROM "${table}" WHERE id = $1`, [
        record!.id,
      ]);
      return result.rows[0];
    });
    expect(row).toEqual({
      id: record!.id,
      key: record!.key,
      source: record!.source,
      ts: record!.ts,
      payload: record!.payload,
    });
  });

  it('refuses a table name that is not an SQL identifier, permanently', () => {
    expect(() => new PostgresSink({ connectionString: POSTGRES_URL, table: 'x"; DROP TABLE y; --' })).toThrow(
      expect.objectContaining({ code: 'SLUICE_SINK_ERROR', retryable: false }),
    );
  });
});
