/**
 * A PostgreSQL outage in the middle of a run, made by cutting a TCP proxy between the workers and
 * the server: writes fail and are retried, the ring fills and holds the producer, and when the link
 * comes back every event is stored once — none lost, none dead-lettered. For the envelope table
 * (the binary COPY path) — events as pushed, and a transform's outputs, whose bytes each batch
 * writes into chunks it hands back to its worker when it ends, handed-back batches included — and
 * for a table of the user's own with mapped columns and an upsert, each cut for 10 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline, type PipelineStats } from '../../src/engine/pipeline.js';
import {
  distinctSorted,
  fixtureUrl,
  ids,
  pollUntil,
  readDeadLetters,
  uniqueName,
  watch,
} from '../helpers/engine.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  readPostgresIds,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

announcePostgres('postgres-outage');

const N = 20_000;
const CHUNK = 100;
/** The cut comes once this many events were accepted. */
const CUT_AT = 5_000;
const CAPACITY = 64 * 1024;

/** The same server, reached through `port` on 127.0.0.1. */
function throughPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.href;
}

/**
 * Resolves once `condition()` holds; rejects naming `what` after `timeoutMs`. The pipeline's
 * counters and the proxy's have no change notification, so this looks every few ms — a wait for a
 * state, not a guess at how long it takes.
 */

describe.skipIf(postgresSkip)('a PostgreSQL outage mid-run', () => {
  const tables: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-outage-'));
  const deadLetterPath = join(dir, 'dead-letters.ndjson');
  let proxy: FaultProxy | undefined;
  let pipeline: Pipeline | undefined;

  beforeAll(requirePostgres);
  afterEach(async () => {
    proxy?.restore();
    await pipeline?.close({ timeoutMs: 10_000 }).catch(() => {});
    await proxy?.close();
  });
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    { mode: 'envelope', outageMs: 10_000 },
    { mode: 'envelope, through a transform', outageMs: 10_000 },
    { mode: 'mapped columns, upsert', outageMs: 10_000 },
  ] as const)(
    '$mode: retries through a $outageMs ms cut of the link, holds the producer at the ring while it lasts, and stores every event exactly once',
    async ({ mode, outageMs: OUTAGE_MS }) => {
      const table = uniqueName('sluice_outage');
      tables.push(table);
      const mapped = mode === 'mapped columns, upsert';
      const transformed = mode === 'envelope, through a transform';
      if (mapped)
        await withClient((client) =>
          client.query(
            `CREATE TABLE "${table}" (order_id text PRIMARY KEY, n bigint NOT NULL, updated_at timestamptz)`,
          ),
        );
      const target = new URL(POSTGRES_URL);
      proxy = await FaultProxy.start({
        host: target.hostname || '127.0.0.1',
        port: Number(target.port || 5432),
      });
      const p = await createPipeline({
        queue: { capacityBytes: CAPACITY },
        workers: { min: 2, max: 2 },
        batch: { maxRecords: 200 },
        // Passes each payload on with `routed: true` added.
        ...(transformed ? { transform: fixtureUrl('route-transform') } : {}),
        // Enough attempts, with a low enough ceiling, that a write keeps trying well past the outage.
        retry: { maxAttempts: 1000, initialDelayMs: 10, maxDelayMs: 200, maxElapsedMs: 120_000 },
        sink: {
          type: 'postgres',
          connectionString: throughPort(POSTGRES_URL, proxy.port),
          table,
          ...(mapped
            ? {
                columns: { order_id: 'id', n: 'payload.n', updated_at: 'ts' },
                onConflict: { target: ['order_id'], action: 'update' as const },
              }
            : {}),
        },
        deadLetter: { type: 'ndjson', path: deadLetterPath },
        // A retry logs a line; the outage makes hundreds.
        log: { destination: join(dir, 'pipeline.log') },
      });
      pipeline = p;
      const link = proxy;
      const all = ids('outage', N);

      let current: { readonly settled: boolean } | undefined;
      let atCut: PipelineStats | undefined;
      let refusedAtCut = 0;
      let outage: Promise<{ atRestore: PipelineStats; pendingAtRestore: boolean }> | undefined;

      /** Keeps the link cut until the producer waits, a worker met the cut reconnecting, and OUTAGE_MS passed. */
      async function holdOutage(cutAt: number) {
        try {
          const waitsAtCut = atCut!.queue.producerWaits;
          await pollUntil(
            () => current?.settled === false && p.stats().queue.producerWaits > waitsAtCut,
            'the producer waits for room',
          );
          await pollUntil(() => link.counters.refused > refusedAtCut, 'a worker tries to reconnect');
          await sleep(Math.max(0, OUTAGE_MS - (performance.now() - cutAt)));
          return { atRestore: p.stats(), pendingAtRestore: current?.settled === false };
        } finally {
          // Restored even when a wait failed, so the producer finishes and the failure is reported.
          link.restore();
        }
      }

      for (let i = 0; i < N; i += CHUNK) {
        if (i === CUT_AT) {
          link.cut();
          atCut = p.stats();
          refusedAtCut = link.counters.refused;
          outage = holdOutage(performance.now());
          // Awaited after the last push; this only keeps an early failure from going unhandled.
          outage.catch(() => {});
        }
        const push = p.pushMany(
          all
            .slice(i, i + CHUNK)
            .map((id, j) => ({ id, ts: 1_700_000_000_000 + i + j, payload: { n: i + j } })),
        );
        current = watch(push);
        expect(await push).toBe(CHUNK);
      }
      const { atRestore, pendingAtRestore } = await outage!;
      await p.drained();
      const summary = await p.close();

      // Every event is in the table once.
      const stored = mapped ? await readOrderIds(table) : await readPostgresIds(table);
      expect(stored.length).toBe(N);
      expect(distinctSorted(stored)).toEqual(all);
      expect(summary.written).toBe(N);

      // Writes failed while the link was cut and were retried, and none gave up.
      expect(link.counters.cut).toBeGreaterThan(0);
      expect(summary.retries).toBeGreaterThan(0);
      expect(summary.retryableErrors).toBeGreaterThan(0);
      expect(summary.permanentErrors).toBe(0);
      expect(summary.deadLettered).toBe(0);
      expect(readDeadLetters(deadLetterPath)).toEqual([]);
      // The sink kept its worker alive through the broken connections.
      expect(summary.workerFailures).toBe(0);

      // The producer was held: a push was still waiting when the link came back, and its wait counted.
      expect(pendingAtRestore).toBe(true);
      expect(atRestore.queue.producerWaits).toBeGreaterThan(atCut!.queue.producerWaits);
      expect(summary.queue.producerBlockedMs).toBeGreaterThan(atCut!.queue.producerBlockedMs);
      // Nothing pushed after the cut could be acknowledged, so all of it was still in the ring —
      // which held no more than its capacity, filled by the producer.
      const pushedDuringCut = atRestore.queue.recordsWritten - atCut!.queue.recordsWritten;
      expect(pushedDuringCut).toBeLessThanOrEqual(atRestore.queue.depthRecords);
      expect(atRestore.queue.depthBytes).toBeLessThanOrEqual(CAPACITY);
      expect(atRestore.queue.depthBytes).toBeGreaterThan(CAPACITY / 2);
      if (mapped) {
        // Each row holds its own event's values: nothing was written twice over another.
        const wrong = await withClient(async (client) => {
          const { rows } = await client.query(
            `SELECT count(*)::int AS n FROM "${table}"
           WHERE n <> substring(order_id from 8)::bigint
              OR updated_at <> to_timestamp((1700000000000 + n) / 1000.0)`,
          );
          return rows[0].n as number;
        });
        expect(wrong).toBe(0);
      }
      if (transformed) {
        // Each row holds its own event's output, whole: no chunk was written over while a batch
        // that had used it was retried, handed back or dispatched again.
        const wrong = await withClient(async (client) => {
          const { rows } = await client.query(
            `SELECT count(*)::int AS n FROM "${table}"
           WHERE payload <> jsonb_build_object('n', substring(id from 8)::int, 'routed', true)`,
          );
          return rows[0].n as number;
        });
        expect(wrong).toBe(0);
      }
    },
  );
});

async function readOrderIds(table: string): Promise<string[]> {
  return withClient(async (client) => {
    const result = await client.query<{ order_id: string }>(`SELECT order_id FROM "${table}"`);
    return result.rows.map((row) => row.order_id);
  });
}
