/**
 * A transform's outputs into PostgreSQL's own table, where they travel as bytes written into each
 * worker's PayloadArena: every output stored once in each route it went to, its payload whole —
 * multi-byte text, surrogate pairs, escapes, payloads larger than an arena chunk — and the values
 * the server refuses (NUL, a lone surrogate) dead-lettered alone while their batch-mates are stored;
 * and held through retries while the table is locked. Batches whose outputs fill several chunks,
 * one after another on each worker: the chunks each batch gives back to its worker serve the next,
 * and no output is written over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { prng } from '../../src/harness/prng.js';
import { distinctSorted, fixtureUrl, readDeadLetters, uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  readPostgresIds,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

announcePostgres('engine/postgres-outputs');

/** Pieces of payload text; the last two the server refuses in jsonb. */
const PIECES = ['plain', 'é中', '😀', '"\\\n\t/', ' ', '\u0000', '\ud800'];
const isRefused = (text: string) => text.includes('\u0000') || text.includes('\ud800');

interface Case {
  id: string;
  payload: { i: number; text: string; to?: string | string[] };
}

/** `n` events of random text, some of it longer than an arena chunk, routed at random. */
function cases(seed: number, n: number): Case[] {
  const random = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    let text = '';
    const pieces = Math.floor(random() * 12);
    for (let k = 0; k < pieces; k++) {
      // Refused pieces rarely, so most batches hold a few among many good events.
      const piece = PIECES[Math.floor(random() * PIECES.length)]!;
      text += isRefused(piece) && random() < 0.9 ? 'x' : piece;
    }
    // One event in a hundred carries ~200 KB of text (600 KB of room at three bytes a unit).
    if (random() < 0.01) text += 'é'.repeat(100_000);
    const r = random();
    const to = r < 0.4 ? undefined : r < 0.7 ? 'b' : r < 0.85 ? ['a', 'b'] : 'a';
    return { id: `out-${seed}-${i}`, payload: to === undefined ? { i, text } : { i, text, to } };
  });
}

async function storedPayloads(table: string): Promise<Map<string, unknown>> {
  return withClient(async (client) => {
    const result = await client.query<{ id: string; payload: unknown }>(`SELECT id, payload FROM "${table}"`);
    return new Map(result.rows.map((row) => [row.id, row.payload]));
  });
}

describe.skipIf(postgresSkip)('transform outputs into PostgreSQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-outputs-'));
  const tables: string[] = [];

  beforeAll(requirePostgres);
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const seed of [1, 2, 3]) {
    it(`stores each output once in each of its routes, payload whole; refused values dead-lettered alone (seed ${seed})`, async () => {
      const a = uniqueName('sluice_out_a');
      const b = uniqueName('sluice_out_b');
      tables.push(a, b);
      const deadLetters = join(dir, `dead-${seed}.ndjson`);
      const pipeline = await createPipeline({
        transform: fixtureUrl('route-transform'),
        routes: {
          a: { sink: { type: 'postgres', connectionString: POSTGRES_URL, table: a } },
          b: { sink: { type: 'postgres', connectionString: POSTGRES_URL, table: b } },
        },
        defaultRoute: 'a',
        deadLetter: { type: 'ndjson', path: deadLetters },
        queue: { capacityBytes: 4 * 1024 * 1024 },
        workers: { min: 2, max: 2 },
        batch: { maxRecords: 300 },
        log: { level: 'error' },
      });
      const all = cases(seed, 1500);
      try {
        for (let i = 0; i < all.length; i += 250) await pipeline.pushMany(all.slice(i, i + 250));
        await pipeline.drained();
      } finally {
        await pipeline.close();
      }

      const refusedCases = all.filter((c) => isRefused(c.payload.text));
      expect(refusedCases.length).toBeGreaterThan(0);
      const expectIn = (route: string) =>
        all.filter((c) => {
          if (isRefused(c.payload.text)) return false;
          const to = c.payload.to ?? 'a';
          return Array.isArray(to) ? to.includes(route) : to === route;
        });
      for (const [route, table] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const expected = expectIn(route);
        const ids = await readPostgresIds(table);
        // Once each: no id missing, none twice.
        expect(ids.length).toBe(expected.length);
        expect(distinctSorted(ids)).toEqual(distinctSorted(expected.map((c) => c.id)));
        const stored = await storedPayloads(table);
        for (const c of expected) expect(stored.get(c.id)).toEqual({ ...c.payload, routed: true });
      }
      // A refused output is dead-lettered with the server's reason, once per route it went to.
      const letters = readDeadLetters(deadLetters);
      expect(distinctSorted(letters.map((l) => l.id))).toEqual(distinctSorted(refusedCases.map((c) => c.id)));
      for (const { letter } of letters) expect(letter.reason).toBe('sink-rejected');
    });
  }

  it('stores every output whole when each batch fills several arena chunks and the next batches reuse them', async () => {
    const table = uniqueName('sluice_out_chunks');
    tables.push(table);
    const deadLetters = join(dir, 'dead-chunks.ndjson');
    const pipeline = await createPipeline({
      transform: fixtureUrl('route-transform'),
      sink: { type: 'postgres', connectionString: POSTGRES_URL, table },
      deadLetter: { type: 'ndjson', path: deadLetters },
      queue: { capacityBytes: 16 * 1024 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 1500, maxBytes: 4 * 1024 * 1024 },
      log: { level: 'error' },
    });
    // 0.1–3.6 KB of JSON each, 1.2 on average: a batch's outputs fill several 256 KiB chunks. Every
    // text differs.
    const random = prng(7);
    const all = Array.from({ length: 9000 }, (_, i) => {
      const piece = PIECES[i % 5]!;
      return {
        id: `chunk-${i}`,
        payload: { i, text: `${i}:${piece.repeat(100 + Math.floor(random() * 300))}` },
      };
    });
    try {
      for (let i = 0; i < all.length; i += 1500) await pipeline.pushMany(all.slice(i, i + 1500));
      await pipeline.drained();
    } finally {
      await pipeline.close();
    }
    const ids = await readPostgresIds(table);
    expect(ids.length).toBe(all.length);
    expect(distinctSorted(ids)).toEqual(distinctSorted(all.map((c) => c.id)));
    const stored = await storedPayloads(table);
    for (const c of all) expect(stored.get(c.id)).toEqual({ ...c.payload, routed: true });
    expect(readDeadLetters(deadLetters)).toEqual([]);
  }, 30_000);

  it('holds outputs through a table locked for 3 s: writes time out and are retried, then every output is stored once, payload whole', async () => {
    const table = uniqueName('sluice_out_locked');
    tables.push(table);
    const deadLetters = join(dir, 'dead-locked.ndjson');
    const pipeline = await createPipeline({
      transform: fixtureUrl('route-transform'),
      sink: { type: 'postgres', connectionString: POSTGRES_URL, table, statementTimeoutMs: 200 },
      retry: { initialDelayMs: 20, maxDelayMs: 200 },
      deadLetter: { type: 'ndjson', path: deadLetters },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 200 },
      log: { level: 'silent' },
    });
    const all = cases(4, 1000).map((c) => ({ id: c.id, payload: { i: c.payload.i, text: c.payload.text } }));
    const locker = new pg.Client({ connectionString: POSTGRES_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
      await pipeline.pushMany(all);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // Every write so far waited on the lock until its statement timed out: the sink is down.
      expect(pipeline.stats().written).toBe(0);
      expect(await pipeline.metrics.metrics()).toMatch(/^sluice_sink_up\{[^}]*role="sink"\} 0$/m);
      await locker.query('COMMIT');
      await pipeline.drained();
    } finally {
      await locker.end();
      await pipeline.close();
    }
    const expected = all.filter((c) => !isRefused(c.payload.text));
    const ids = await readPostgresIds(table);
    expect(ids.length).toBe(expected.length);
    expect(distinctSorted(ids)).toEqual(distinctSorted(expected.map((c) => c.id)));
    const stored = await storedPayloads(table);
    for (const c of expected) expect(stored.get(c.id)).toEqual({ ...c.payload, routed: true });
    const letters = readDeadLetters(deadLetters);
    expect(distinctSorted(letters.map((l) => l.id))).toEqual(
      distinctSorted(all.filter((c) => isRefused(c.payload.text)).map((c) => c.id)),
    );
    for (const { letter } of letters) expect(letter.reason).toBe('sink-rejected');
  }, 30_000);
});
