/**
 * A value PostgreSQL refuses — NUL in a string, a lone surrogate in jsonb, NUL in an id — fails
 * only its own record: the batch is split until the record stands alone, it is dead-lettered with
 * the server's message, and its 997 batch-mates are stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { distinctSorted, ids, readDeadLetters, uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  readPostgresIds,
  requirePostgres,
} from '../helpers/postgres.js';

announcePostgres('engine/postgres-isolation');

describe.skipIf(postgresSkip)('PostgreSQL refusing single values', () => {
  const table = uniqueName('sluice_isolation');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-iso-'));
  const deadLetters = join(dir, 'dead-letters.ndjson');
  let pipeline: Pipeline | undefined;

  beforeAll(requirePostgres);
  afterAll(async () => {
    await pipeline?.close({ timeoutMs: 5000 }).catch(() => {});
    await dropTable(table);
    rmSync(dir, { recursive: true, force: true });
  });

  it('dead-letters only the records whose values the server refuses, with its message and the value holding a NUL, and stores the other 996 of the batch', async () => {
    pipeline = await createPipeline({
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 1000 },
      sink: { type: 'postgres', connectionString: POSTGRES_URL, table },
      deadLetter: { type: 'ndjson', path: deadLetters },
    });
    const all = ids('iso', 1000);
    const bad = new Map<number, { id: string; key?: string; payload: unknown }>([
      [100, { id: all[100]!, payload: { note: 'nul \u0000 inside' } }],
      [400, { id: all[400]!, payload: { note: 'lone \ud800 surrogate' } }],
      [800, { id: `${all[800]}\u0000`, payload: { n: 800 } }],
      [900, { id: all[900]!, key: 'k\u0000', payload: { n: 900 } }],
    ]);
    await pipeline.pushMany(all.map((id, i) => bad.get(i) ?? { id, payload: { n: i } }));
    await pipeline.drained();

    const stored = await readPostgresIds(table);
    expect(stored).toHaveLength(996);
    expect(distinctSorted(stored)).toEqual(all.filter((_, i) => !bad.has(i)));
    const letters = readDeadLetters(deadLetters);
    expect(distinctSorted(letters.map((l) => l.id))).toEqual(
      distinctSorted([...bad.values()].map((b) => b.id)),
    );
    for (const { letter } of letters) {
      expect(letter.reason).toBe('sink-rejected');
      // The server's own words: PostgreSQL names the bad byte or the unsupported escape.
      expect(letter.lastError).toMatch(/postgres: write failed: .*(0x00|\\u0000|Unicode)/i);
    }
    // Where a NUL is the reason, the value holding it is named.
    const named = new Map(
      letters.map(({ id, letter }) => [id, /: (\w+) holds NUL \(U\+0000\)/.exec(letter.lastError)?.[1]]),
    );
    expect(named).toEqual(
      new Map([
        [all[100], 'payload'],
        [all[400], undefined],
        [`${all[800]}\u0000`, 'id'],
        [all[900], 'key'],
      ]),
    );
    expect(pipeline.stats()).toMatchObject({ written: 996, deadLettered: 4 });
  });
});
