/**
 * How many batches one worker writes at once. With the built-in sinks alone, up to
 * workers.concurrentBatchesPerWorker: a worker's two COPYs wait on a locked table side by side.
 * With a transform (code of the user's, which may end its worker), one: the second batch waits in
 * the pool's queue. And a batch that carries no abort signal and runs past taskTimeoutMs has its
 * worker thread ended: both batches on it are dispatched again, and every event is stored once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { distinctSorted, fixtureUrl, uniqueName } from '../helpers/engine.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  readPostgresIds,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

announcePostgres('engine/worker-concurrency');

const EVENTS = 400;
const BATCH = 100;

/** COPYs into `table` that wait for a lock (the table's, held by the test). */
async function waitingCopies(table: string): Promise<number> {
  return withClient(async (client) => {
    const result = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
      [`COPY "${table}"%`],
    );
    return result.rows[0]!.n;
  });
}

/**
 * The most COPYs seen waiting at once over `windowMs` after the first one waits (at most 10 s for
 * that first one).
 */
async function mostWaiting(table: string, windowMs: number): Promise<number> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const giveUpAt = Date.now() + 10_000;
  let most = 0;
  while (most === 0 && Date.now() < giveUpAt) {
    most = await waitingCopies(table);
    if (most === 0) await sleep(20);
  }
  const until = Date.now() + windowMs;
  while (Date.now() < until) {
    most = Math.max(most, await waitingCopies(table));
    await sleep(20);
  }
  return most;
}

describe.skipIf(postgresSkip)('batches a worker writes at once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-concurrency-'));
  const tables: string[] = [];

  beforeAll(requirePostgres);
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Pushes EVENTS events into a pipeline writing to a fresh table, holds the table locked while
   * `whileLocked` runs, then drains; returns the pipeline's stats and checks every event is stored
   * once and nothing was dead-lettered.
   */
  async function throughLockedTable(
    name: string,
    options: { transform?: URL; taskTimeoutMs?: number },
    whileLocked: (table: string, pipeline: Pipeline) => Promise<void>,
  ): Promise<ReturnType<Pipeline['stats']>> {
    const table = uniqueName(name);
    tables.push(table);
    const deadLetters = join(dir, `${table}.ndjson`);
    const pipeline = await createPipeline({
      ...(options.transform ? { transform: options.transform } : {}),
      sink: { type: 'postgres', connectionString: POSTGRES_URL, table },
      deadLetter: { type: 'ndjson', path: deadLetters },
      workers: {
        min: 1,
        max: 1,
        concurrentBatchesPerWorker: 2,
        ...(options.taskTimeoutMs ? { taskTimeoutMs: options.taskTimeoutMs } : {}),
      },
      batch: { maxRecords: BATCH },
      log: { level: 'silent' },
    });
    const all = Array.from({ length: EVENTS }, (_, i) => ({ id: `${name}-${i}`, payload: { i } }));
    const locker = new pg.Client({ connectionString: POSTGRES_URL });
    await locker.connect();
    let stats: ReturnType<Pipeline['stats']>;
    try {
      // The sink created the table as the pipeline started.
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
      await pipeline.pushMany(all);
      await whileLocked(table, pipeline);
      await locker.query('COMMIT');
      await pipeline.drained();
      stats = pipeline.stats();
    } finally {
      await locker.end();
      await pipeline.close();
    }
    const ids = await readPostgresIds(table);
    expect(ids.length).toBe(EVENTS);
    expect(distinctSorted(ids)).toEqual(distinctSorted(all.map((e) => e.id)));
    expect(existsSync(deadLetters) ? readFileSync(deadLetters, 'utf8') : '').toBe('');
    return stats;
  }

  it('with the built-in sinks alone, one worker writes concurrentBatchesPerWorker (2) batches at once', async () => {
    let most = 0;
    await throughLockedTable('sluice_conc_builtin', {}, async (table) => {
      most = await mostWaiting(table, 1000);
    });
    expect(most).toBe(2);
  }, 30_000);

  it('with a transform, one worker writes one batch at a time', async () => {
    let most = 0;
    await throughLockedTable(
      'sluice_conc_transform',
      { transform: fixtureUrl('route-transform') },
      async (table) => {
        most = await mostWaiting(table, 1000);
      },
    );
    expect(most).toBe(1);
  }, 30_000);

  it('a batch without an abort signal that runs past taskTimeoutMs has its worker thread ended; every event is stored once', async () => {
    const stats = await throughLockedTable(
      'sluice_conc_timeout',
      { taskTimeoutMs: 1000 },
      async (table, pipeline) => {
        expect(await mostWaiting(table, 100)).toBe(2);
        // Held until both batches have failed with their thread (a second past their start), then
        // let go at once: what runs after them has its whole second ahead of it.
        const giveUpAt = Date.now() + 15_000;
        while (pipeline.stats().workerFailures < 2 && Date.now() < giveUpAt) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
    );
    // The thread the two batches ran on was ended: both failed, and ran again (split, alone).
    expect(stats.workerFailures).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
