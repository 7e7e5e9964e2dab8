/** The whole engine into a real PostgreSQL: every event one row, through several workers. */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { ids, uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

announcePostgres('engine/postgres');

describe.skipIf(postgresSkip)('pipeline into PostgreSQL', () => {
  const table = uniqueName('sluice_engine');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-'));
  let pipeline: Pipeline | undefined;

  beforeAll(requirePostgres);
  afterAll(async () => {
    await pipeline?.close({ timeoutMs: 5000 }).catch(() => {});
    await dropTable(table);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores N pushed events as N distinct rows, each with its payload', async () => {
    const N = 10_000;
    pipeline = await createPipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 500 },
      sink: { type: 'postgres', connectionString: POSTGRES_URL, table },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead-letters.ndjson') },
    });
    const all = ids('pg', N);
    for (let i = 0; i < N; i += 1000) {
      await pipeline.pushMany(
        all.slice(i, i + 1000).map((id, j) => ({ id, key: `k${j % 10}`, payload: { n: i + j } })),
      );
    }
    await pipeline.drained();
    const summary = await pipeline.close();
    expect(summary.written).toBe(N);
    expect(summary.deadLettered).toBe(0);

    const { rows, distinct, sum } = await withClient(async (client) => {
      const result = await client.query<{ rows: string; distinct: string; sum: string }>(
        `SELECT count(*) AS rows, count(DISTINCT id) AS distinct, sum((payload->>'n')::int) AS sum FROM "${table}"`,
      );
      return result.rows[0]!;
    });
    expect(Number(rows)).toBe(N);
    expect(Number(distinct)).toBe(N);
    expect(Number(sum)).toBe((N * (N - 1)) / 2);
  });
});
