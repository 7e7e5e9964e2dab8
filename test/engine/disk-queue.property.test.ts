/**
 * The disk queue over many seeds: pushes of random sizes and payloads, a sink that goes down and
 * comes back at random, a bounded backlog refusing pushes under `reject`, and restarts — some after
 * a close that gave up on a sink still down. Whatever the mix, every event whose push was accepted
 * is in the sink in the end, and no refused one is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { prng } from '../../src/harness/prng.js';
import { createControl, FAILING } from '../fixtures/engine/control.js';
import { createRecordingTable } from '../fixtures/engine/recording-table.js';
import { fixtureUrl } from '../helpers/engine.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('disk queue, property-style', () => {
  it.each(Array.from({ length: 12 }, (_, i) => i + 1))(
    'seed %i: random pushes, sink outages, a bounded backlog and restarts — every accepted event stored, no refused one',
    async (seed) => {
      const rand = prng(seed);
      const dir = mkdtempSync(join(tmpdir(), 'sluice-disk-property-'));
      dirs.push(dir);
      const db = join(dir, 'sink.db');
      const conn = new Database(db);
      createRecordingTable(conn, 'rows', true);
      conn.close();
      const capacityBytes = rand() < 0.5 ? 16 * 1024 : 64 * 1024;
      const maxDiskBytes = [128 * 1024, 1024 * 1024, 64 * 1024 * 1024][Math.floor(rand() * 3)]!;
      // A refusal at once, or after waiting a little for room (a waiter that times out).
      const rejectTimeoutMs = rand() < 0.5 ? 0 : 20;
      const accepted = new Set<string>();
      const refused = new Set<string>();
      let next = 0;
      for (let phase = 0; phase < 3; phase++) {
        const control = createControl();
        const words = new Int32Array(control);
        const pipeline = await createPipeline({
          queue: {
            durability: 'disk',
            path: join(dir, 'q'),
            capacityBytes,
            maxDiskBytes,
            policy: 'reject',
            rejectTimeoutMs,
          },
          workers: { min: 1, max: 2 },
          sink: { module: fixtureUrl('test-sink'), options: { path: db, table: 'rows', control } },
          deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
          retry: { initialDelayMs: 2, maxDelayMs: 10, maxAttempts: 1_000_000 },
          log: { level: 'silent' },
        });
        for (let round = 0; round < 40; round++) {
          if (rand() < 0.15) Atomics.store(words, FAILING, Atomics.load(words, FAILING) ? 0 : 1);
          const events = Array.from({ length: 1 + Math.floor(rand() * 300) }, () => ({
            id: `s${seed}-${next++}`,
            payload: { pad: 'p'.repeat(Math.floor(rand() ** 3 * 3000)), n: next },
          }));
          try {
            expect(await pipeline.pushMany(events)).toBe(events.length);
            for (const e of events) accepted.add(e.id);
          } catch (error) {
            expect(error).toMatchObject({ code: 'SLUICE_QUEUE_FULL' });
            for (const e of events) refused.add(e.id);
          }
          if (rand() < 0.1) await new Promise((resolve) => setTimeout(resolve, 5));
        }
        if (phase < 2 && rand() < 0.6) {
          // Gives up on a sink still down: what it holds stays on disk for the next phase.
          Atomics.store(words, FAILING, 1);
          await pipeline.close({ timeoutMs: 100 }).catch((e: unknown) => {
            expect(e).toMatchObject({ code: 'SLUICE_SHUTDOWN_TIMEOUT' });
          });
        } else {
          Atomics.store(words, FAILING, 0);
          await pipeline.close();
        }
      }
      const last = await createPipeline({
        queue: { durability: 'disk', path: join(dir, 'q'), capacityBytes, maxDiskBytes },
        workers: { min: 1, max: 2 },
        sink: { module: fixtureUrl('test-sink'), options: { path: db, table: 'rows' } },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
        log: { level: 'silent' },
      });
      await last.drained();
      await last.close();
      expect(last.stats().disk).toMatchObject({ backlogRecords: 0 });
      const stored = new Set(
        (new Database(db, { readonly: true }).prepare('SELECT id FROM rows').all() as { id: string }[]).map(
          (r) => r.id,
        ),
      );
      expect(accepted.size).toBeGreaterThan(0);
      expect([...accepted].filter((id) => !stored.has(id))).toEqual([]);
      expect([...stored].filter((id) => !accepted.has(id))).toEqual([]);
      if (maxDiskBytes === 128 * 1024) expect(refused.size).toBeGreaterThan(0);
    },
    120_000,
  );
});
