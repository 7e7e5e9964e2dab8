import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import {
  DEFAULT_POSTGRES_SINK_OPTIONS,
  PostgresSink,
  type PostgresSinkOptions,
  QUERY_TIMEOUT_MARGIN_MS,
} from '../../src/sinks/postgres-sink.js';
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

/** A sink built as a worker builds it: from the resolved spec. */
const postgresSink = (options: PostgresSinkOptions) =>
  new PostgresSink(resolveSinkSpec({ type: 'postgres', ...options }));

describe.skipIf(postgresSkip)('PostgresSink against a real server', () => {
  beforeAll(requirePostgres);
  afterAll(async () => {
    await dropTable(table);
  });

  runSinkCompliance(
    () => postgresSink({ connectionString: POSTGRES_URL, table }),
    () => readPostgresIds(table),
    {
      name: 'PostgreSQL',
      failures: [
        {
          description: 'the server is unreachable',
          failsAt: 'open',
          makeSink: () => postgresSink({ connectionString: 'postgres://postgres@127.0.0.1:1/test', table }),
        },
        {
          description: 'another session locks the table past the statement timeout',
          makeSink: () => postgresSink({ connectionString: POSTGRES_URL, table, statementTimeoutMs: 200 }),
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
    const sink = postgresSink({ connectionString: POSTGRES_URL, table });
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
    const sink = postgresSink({ connectionString: POSTGRES_URL, table });
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

  it('refuses a table name that is not an SQL identifier when its spec is resolved, before any statement', () => {
    const injection = 'x"; DROP TABLE y; --';
    expect(() => postgresSink({ connectionString: POSTGRES_URL, table: injection })).toThrow(
      expect.objectContaining({
        code: 'SLUICE_INVALID_OPTION',
        message: `sink.table must be an SQL identifier (letters, digits and _, not starting with a digit, at most 63), got ${JSON.stringify(injection)}`,
      }),
    );
  });
});

describe('postgres sink options', () => {
  const valid = { type: 'postgres', connectionString: 'postgres://postgres@127.0.0.1:5432/test' } as const;

  it('are accepted with only a connection string, the timeouts defaulted, and build a sink as resolved', () => {
    const resolved = resolveSinkSpec(valid, 'sink');
    expect(resolved).toEqual({
      ...valid,
      ...DEFAULT_POSTGRES_SINK_OPTIONS,
      queryTimeoutMs: DEFAULT_POSTGRES_SINK_OPTIONS.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    });
    expect(new PostgresSink(resolved)).toBeInstanceOf(PostgresSink);
  });

  it('default the query timeout to the statement timeout plus a margin, so the server cancels first', () => {
    expect(resolveSinkSpec({ ...valid, statementTimeoutMs: 1_000 }).queryTimeoutMs).toBe(
      1_000 + QUERY_TIMEOUT_MARGIN_MS,
    );
    expect(resolveSinkSpec({ ...valid, statementTimeoutMs: 1_000, queryTimeoutMs: 700 }).queryTimeoutMs).toBe(
      700,
    );
  });

  it.each([
    ['sink.poolSize', { poolSize: 0 }, 'got 0'],
    ['sink.statementTimeoutMs', { statementTimeoutMs: 1.5 }, 'got 1.5'],
    ['sink.connectTimeoutMs', { connectTimeoutMs: 0 }, 'got 0'],
    ['sink.connectTimeoutMs', { connectTimeoutMs: '10s' }, 'got "10s"'],
    ['sink.queryTimeoutMs', { queryTimeoutMs: -1 }, 'got -1'],
    // Beyond what a Node timer takes: it would fire at once.
    ['sink.queryTimeoutMs', { queryTimeoutMs: 2 ** 31 }, `got ${2 ** 31}`],
    ['sink.keepAlive', { keepAlive: 'yes' }, 'got "yes"'],
  ])('name %s and quote the value when it is wrong (%j)', (field, override, got) => {
    const spec = { ...valid, ...override } as unknown as PostgresSinkOptions & { type: 'postgres' };
    const error = thrownBy(() => resolveSinkSpec(spec, 'sink'));
    expect(error).toMatchObject({ code: 'SLUICE_INVALID_OPTION' });
    expect(error.message.startsWith(`${field} must be `), error.message).toBe(true);
    expect(error.message.endsWith(`, ${got}`), error.message).toBe(true);
  });

  it('name the dead-letter field when the spec is the dead-letter sink', () => {
    expect(() => resolveSinkSpec({ ...valid, connectTimeoutMs: 0 }, 'deadLetter')).toThrow(
      /^deadLetter\.connectTimeoutMs must be/,
    );
  });
});

function thrownBy(attempt: () => unknown): Error {
  try {
    attempt();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
