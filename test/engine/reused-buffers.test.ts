/**
 * The buffers a run uses again — the file's reads (NdjsonSource), each range copied out of the ring
 * (RangeCopy), each batch's COPY rows (the PostgreSQL sink) — must never be handed to the next
 * user while the last one still reads them: an NDJSON file of varied lines, read in several 1 MiB
 * reads, through a small ring in small batches by one worker, into PostgreSQL and SQLite, and
 * through a slow, flaky sink whose retries read a batch's records again after their backoff.
 * Every line must be stored once, by id, as its own value (jsonb equal for PostgreSQL, byte for
 * byte for SQLite) — but for PostgreSQL's refusals of a NUL, each dead-lettered alone; the one
 * 20 000 deep is dead-lettered as too-deep.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../src/harness/prng.js';
import type { SinkSpec } from '../../src/sinks/sink-spec.js';
import { NdjsonSource } from '../../src/sources/ndjson-source.js';
import { fixtureUrl, type Scene, uniqueName, useScenes } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

const scene = useScenes();

/**
 * `count` lines from `seed`: sizes from a few bytes to 7 KB, numbers JSON.parse would change, escapes
 * (a NUL and a lone surrogate in one line of five: stored by SQLite, refused by jsonb).
 */
function variedLines(seed: number, count: number): { id: string; line: string }[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const id = `r${seed}-${i}`;
    const pad = 'ñ€😀x\\"'.repeat(Math.floor(random() ** 3 * 600));
    const line =
      i % 5 === 0
        ? `{"id":"${id}","big":12345678901234567890${i},"tiny":1e-40${i % 10},"t":"${pad}"}`
        : i % 5 === 1
          ? `{ "id" : "${id}" , "nul":"a\\u0000b", "lone":"\\ud800x", "n":[${i}, -0.0, 1.50] , "t":"${pad}" }`
          : `{"id":"${id}","t":"${pad}","x":${random()}}`;
    return { id, line };
  });
}

/**
 * Runs an NDJSON file of `lines` (and one 20 000-deep line) through a small ring into `sink`; the
 * dead letters other than the deep one, as [id, reason].
 */
async function throughReusedBuffers(
  s: Scene,
  sink: SinkSpec,
  lines: { line: string }[],
  transform?: URL,
): Promise<[string | undefined, string][]> {
  const file = join(s.dir, 'in.ndjson');
  const deep = `{"id":"r-deep","deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
  const all = lines.map((l) => l.line);
  all.splice(all.length >> 1, 0, deep);
  writeFileSync(file, `${all.join('\n')}\n`);
  const pipeline = await s.pipeline({
    // One worker, so every batch is that worker's: its buffers serve them all.
    workers: { min: 1, max: 1 },
    queue: { capacityBytes: 512 * 1024 },
    batch: { maxBytes: 24 * 1024 },
    sink,
    ...(transform ? { transform } : {}),
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 1_000 },
    log: { level: 'silent' },
  });
  await new NdjsonSource({ path: file }).start(pipeline, new AbortController().signal);
  await pipeline.drained();
  await pipeline.close();
  // Refused unread, it keeps the id it was given at the push (the file's digest and its offset).
  const letters = s.deadLetters().map((l) => l.letter);
  expect(
    letters.filter((l) => l.reason === 'too-deep').map((l) => (l.event as { raw?: string }).raw),
  ).toEqual([deep]);
  return letters
    .filter((l) => l.reason !== 'too-deep')
    .map((l) => [(l.event as { id?: string }).id, l.reason] as [string | undefined, string]);
}

/**
 * How `table` holds `expected`, compared by the server (jsonb equality, every number as its exact
 * numeric; `want` the SQL of each line's expected value): rows, distinct ids, and the ids of the
 * lines missing or stored otherwise.
 */
async function storedAgainst(
  table: string,
  expected: readonly { id: string; line: string }[],
  want = 'e.line::jsonb',
): Promise<{ stored: number; distinct: number; wrong: string[] }> {
  return withClient(async (client) => {
    const counts = await client.query<{ stored: string; distinct: string }>(
      `SELECT count(*) AS stored, count(DISTINCT id) AS distinct FROM "${table}"`,
    );
    const mismatched = await client.query<{ id: string }>(
      `SELECT e.id FROM unnest($1::text[], $2::text[]) AS e(id, line)
         LEFT JOIN "${table}" t ON t.id = e.id
        WHERE t.id IS NULL OR t.payload <> ${want}
        ORDER BY e.id`,
      [expected.map((l) => l.id), expected.map((l) => l.line)],
    );
    return {
      stored: Number(counts.rows[0]!.stored),
      distinct: Number(counts.rows[0]!.distinct),
      wrong: mismatched.rows.map((r) => r.id),
    };
  });
}

/** The payload text stored in a SQLite table, by id (a row for an id twice would shrink the map). */
function storedText(path: string, table: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare(`SELECT id, payload FROM "${table}"`).all() as { id: string; payload: string }[];
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    return new Map(rows.map((r) => [r.id, r.payload]));
  } finally {
    db.close();
  }
}

describe('buffers used again', () => {
  const lines = variedLines(7, 4000);

  it('an NDJSON file into SQLite: every line stored once, byte for byte', async () => {
    const s = scene();
    expect(await throughReusedBuffers(s, { type: 'sqlite', path: s.dbPath }, lines)).toEqual([]);
    const stored = storedText(s.dbPath, 'events');
    expect(stored.size).toBe(lines.length);
    const wrong = lines.filter(({ id, line }) => stored.get(id) !== line).map(({ id }) => id);
    expect(wrong).toEqual([]);
  });

  it('a text sink module that is slow and fails a third of its writes: the retried batches store every line byte for byte', async () => {
    // A retry reads the batch's records again after its backoff: the range's copy must still be
    // the batch's own then.
    const s = scene();
    const options = s.sinkOptions({ failRate: 0.3, delayMs: 1, seed: 11 });
    const module = { module: fixtureUrl('test-sink'), options, writesText: true };
    expect(await throughReusedBuffers(s, module, lines.slice(0, 1500))).toEqual([]);
    const stored = storedText(options.path, options.table);
    expect(stored.size).toBe(1500);
    const wrong = lines.slice(0, 1500).filter(({ id, line }) => stored.get(id) !== line);
    expect(wrong.map((l) => l.id)).toEqual([]);
  });

  announcePostgres('buffers used again');
  describe.skipIf(postgresSkip)('into PostgreSQL', () => {
    const table = uniqueName('reused');
    beforeAll(() => requirePostgres());
    afterAll(() => dropTable(table));

    it('an NDJSON file into PostgreSQL: every line stored once, as its own value, or refused by the server', async () => {
      const s = scene();
      const refused = await throughReusedBuffers(
        s,
        { type: 'postgres', connectionString: POSTGRES_URL, table },
        lines,
      );
      // jsonb has no NUL: those lines are refused one by one, their batch-mates stored.
      const withNul = lines.filter((l) => l.line.includes('\\u0000'));
      expect(withNul.length).toBeGreaterThan(100);
      expect(refused.sort()).toEqual(withNul.map((l) => [l.id, 'sink-rejected']).sort());
      const kept = lines.filter((l) => !l.line.includes('\\u0000'));
      expect(await storedAgainst(table, kept)).toEqual({
        stored: kept.length,
        distinct: kept.length,
        wrong: [],
      });
    });

    it('a transform’s outputs into PostgreSQL: every output stored once, as the transform made it', async () => {
      // Outputs are written into the worker's arena, then copied into the pooled COPY buffers.
      const enrichedTable = uniqueName('arena');
      try {
        const clean = lines.filter((l) => !l.line.includes('\\u0000'));
        const spec = { type: 'postgres' as const, connectionString: POSTGRES_URL, table: enrichedTable };
        expect(await throughReusedBuffers(scene(), spec, clean, fixtureUrl('lazy-enrich-transform'))).toEqual(
          [],
        );
        expect(await storedAgainst(enrichedTable, clean, `e.line::jsonb || '{"seenBy":"sluice"}'`)).toEqual({
          stored: clean.length,
          distinct: clean.length,
          wrong: [],
        });
      } finally {
        await dropTable(enrichedTable);
      }
    });

    it('a file run again with new lines among the stored ones: every line stored once, as its own value', async () => {
      // Batches meeting stored ids go through the staging table: the same COPY buffer is sent a
      // second time, after the refused COPY's round trip, and must still hold the batch's rows.
      const replayed = uniqueName('replayed');
      try {
        const spec = { type: 'postgres' as const, connectionString: POSTGRES_URL, table: replayed };
        const clean = lines.filter((l) => !l.line.includes('\\u0000'));
        await throughReusedBuffers(
          scene(),
          spec,
          clean.filter((_, i) => i % 3 === 0),
        );
        expect(await throughReusedBuffers(scene(), spec, clean)).toEqual([]);
        expect(await storedAgainst(replayed, clean)).toEqual({
          stored: clean.length,
          distinct: clean.length,
          wrong: [],
        });
      } finally {
        await dropTable(replayed);
      }
    });
  });
});
