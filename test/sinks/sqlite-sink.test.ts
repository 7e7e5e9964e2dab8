import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { SqliteSink, type SqliteSinkOptions } from '../../src/sinks/sqlite-sink.js';
import { uniqueName } from '../helpers/engine.js';
import { complianceBatch, runSinkCompliance } from '../helpers/sink-compliance.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-sqlite-sink-'));
const path = join(dir, 'nested', 'sink.db');
const table = uniqueName('events');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sink built as a worker builds it: from the resolved spec. */
const sqliteSink = (options: SqliteSinkOptions) =>
  new SqliteSink(resolveSinkSpec({ type: 'sqlite', ...options }));

/** Reads through a connection of its own, as another process would. */
async function readIds(): Promise<string[]> {
  const db = new Database(path, { readonly: true, fileMustExist: false });
  try {
    const exists = db.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get('table', table);
    if (!exists) return [];
    return (db.prepare(`SELECT id FROM "${table}"`).all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

let blocker: Database.Database | undefined;

runSinkCompliance(() => sqliteSink({ path, table }), readIds, {
  name: 'SQLite',
  failures: [
    {
      description: 'another connection holds the write lock past the busy timeout',
      makeSink: () => sqliteSink({ path, table, busyTimeoutMs: 20 }),
      breakIt() {
        blocker = new Database(path);
        blocker.exec('BEGIN EXCLUSIVE');
      },
      repair() {
        blocker?.exec('COMMIT');
        blocker?.close();
        blocker = undefined;
      },
    },
  ],
});

describe('SqliteSink', () => {
  const sinks: SqliteSink[] = [];
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
  });

  async function open(options: Partial<SqliteSinkOptions> = {}) {
    const sink = sqliteSink({ path, table, ...options });
    sinks.push(sink);
    await sink.open();
    return sink;
  }

  it('stores every field of a record and the payload as JSON', async () => {
    const sink = await open();
    const [record] = complianceBatch(1, 'fields');
    await sink.write([record!]);
    const db = new Database(path, { readonly: true });
    const row = db
      .prepare(`SELECT id, key, source, ts, payload FROM "${table}" WHERE id = ?`)
      .get(record!.id);
    db.close();
    expect(row).toEqual({
      id: record!.id,
      key: record!.key,
      source: record!.source,
      ts: record!.ts,
      payload: JSON.stringify(record!.payload),
    });
  });

  it('runs the database in WAL mode so readers never block the workers writing', async () => {
    await open();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('rejects a record the database refuses with a permanent SinkError and stores nothing of its batch', async () => {
    const sink = await open();
    const batch = complianceBatch(5, 'refused');
    // A payload of undefined serialises to nothing: the NOT NULL payload column refuses it.
    batch[3] = { ...batch[3]!, payload: undefined };
    await expect(sink.write(batch)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
    const found = new Set(await readIds());
    expect(batch.filter((r) => found.has(r.id))).toEqual([]);
  });

  it('refuses a table name that is not an SQL identifier when its spec is resolved, before any statement', () => {
    expect(() => sqliteSink({ path, table: 'events; DROP TABLE x' })).toThrow(
      expect.objectContaining({
        code: 'SLUICE_INVALID_OPTION',
        message:
          'sink.table must be an SQL identifier (letters, digits and _, not starting with a digit, at most 63), got "events; DROP TABLE x"',
      }),
    );
  });

  it('refuses to write before open with a permanent SinkError', async () => {
    const sink = sqliteSink({ path, table });
    await expect(sink.write(complianceBatch(1))).rejects.toMatchObject({ retryable: false });
  });
});
