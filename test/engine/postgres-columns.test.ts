/**
 * A pipeline writing into the user's own PostgreSQL table through mapped columns: a value its
 * column refuses dead-letters that record alone, and a table that cannot take the mapping fails
 * createPipeline() before any event is taken.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { readDeadLetters, uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

announcePostgres('engine/postgres-columns');

describe.skipIf(postgresSkip)('a pipeline writing into its own PostgreSQL table', () => {
  const orders = uniqueName('sluice_orders');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-cols-'));
  const deadLetters = join(dir, 'dead-letters.ndjson');
  let pipeline: Pipeline | undefined;

  beforeAll(async () => {
    requirePostgres();
    await withClient((client) =>
      client.query(
        `CREATE TABLE "${orders}" (order_id integer PRIMARY KEY, qty integer NOT NULL, note text)`,
      ),
    );
  });
  afterAll(async () => {
    await pipeline?.close({ timeoutMs: 5000 }).catch(() => {});
    await dropTable(orders);
    rmSync(dir, { recursive: true, force: true });
  });

  it('dead-letters only the records whose values their columns refuse, with the server’s message (or why no text can hold it), and stores their batch-mates', async () => {
    pipeline = await createPipeline({
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 200 },
      sink: {
        type: 'postgres',
        connectionString: POSTGRES_URL,
        table: orders,
        columns: { order_id: 'payload.order', qty: 'payload.qty', note: 'payload.note' },
        onConflict: { target: ['order_id'], action: 'update' },
      },
      deadLetter: { type: 'ndjson', path: deadLetters },
    });
    const events = Array.from({ length: 200 }, (_, i) => ({
      id: `o-${i}`,
      payload: {
        order: i,
        qty: i === 117 ? 'twelve' : i,
        // 170: a lone surrogate, which UTF-8 cannot carry: refused before the write, not turned into U+FFFD.
        note: i === 150 ? 'nul \u0000 inside' : i === 170 ? 'lone \ud800 surrogate' : `order ${i}`,
      },
    }));
    await pipeline.pushMany(events);
    await pipeline.drained();

    const stored = await withClient(
      async (client) =>
        (await client.query<{ order_id: number }>(`SELECT order_id FROM "${orders}" ORDER BY order_id`)).rows,
    );
    expect(stored.map((row) => row.order_id)).toEqual(
      Array.from({ length: 200 }, (_, i) => i).filter((i) => i !== 117 && i !== 150 && i !== 170),
    );
    const letters = readDeadLetters(deadLetters).sort((a, b) => a.id.localeCompare(b.id));
    expect(letters.map((l) => [l.id, l.letter.reason])).toEqual([
      ['o-117', 'sink-rejected'],
      ['o-150', 'sink-rejected'],
      ['o-170', 'sink-rejected'],
    ]);
    // The server's own words: the value it could not convert, the byte it cannot store in text.
    expect(letters[0]!.letter.lastError).toBe(
      'SinkError [SLUICE_SINK_ERROR]: postgres: write failed: column qty: invalid input syntax for type integer: "twelve"',
    );
    expect(letters[1]!.letter.lastError).toMatch(
      /^SinkError \[SLUICE_SINK_ERROR\]: postgres: write failed: .*0x00/,
    );
    expect(letters[2]!.letter.lastError).toContain(
      'record o-170: column note: a string holding a lone UTF-16 surrogate cannot be stored as text',
    );
    expect(pipeline.stats()).toMatchObject({ written: 197, deadLettered: 3 });
  });

  it('fails createPipeline() when the table lacks a mapped column, naming it, before any event is taken', async () => {
    await expect(
      createPipeline({
        workers: { min: 1, max: 1 },
        sink: {
          type: 'postgres',
          connectionString: POSTGRES_URL,
          table: orders,
          columns: { order_id: 'payload.order', total: 'payload.total' },
          onConflict: { target: ['order_id'] },
        },
      }),
    ).rejects.toMatchObject({
      code: 'SLUICE_SINK_ERROR',
      message: expect.stringContaining(
        `postgres: table "${orders}" has no column "total" (mapped from payload.total)`,
      ),
    });
  });
});
