#!/usr/bin/env node
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createPipeline } from '../engine/pipeline.js';

/**
 * The main job on the embedded default: synthetic events pushed through the ring to piscina
 * workers, a transform, and the SQLite sink in a temporary directory; then the rows are counted
 * back by id. `sluice bench` grows out of this.
 */
async function demo(total: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-'));
  const dbPath = join(dir, 'sluice.db');
  try {
    const pipeline = await createPipeline({
      queue: { capacityBytes: 4 * 1024 * 1024 },
      transform: new URL('../transforms/builtin/add-field.js', import.meta.url),
      sink: { type: 'sqlite', path: dbPath },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead-letters.ndjson') },
    });
    const started = performance.now();
    const chunk = [];
    for (let i = 0; i < total; i++) {
      chunk.push({
        key: `user-${i % 1000}`,
        payload: { seq: i, action: i % 3 ? 'view' : 'click', path: '/checkout' },
      });
      if (chunk.length === 500) {
        await pipeline.pushMany(chunk);
        chunk.length = 0;
      }
    }
    await pipeline.pushMany(chunk);
    await pipeline.drained();
    const seconds = (performance.now() - started) / 1000;
    const summary = await pipeline.close();
    const db = new Database(dbPath, { readonly: true });
    const rows = db.prepare('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events').get() as {
      n: number;
      ids: number;
    };
    db.close();
    console.log(
      `sluice: ${total} events → SQLite in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} events/s`,
    );
    console.log(
      `  ${pipeline.options.workers.max} workers on ${availableParallelism()} CPUs, batches ${summary.batches} (mean ${summary.meanBatchRecords.toFixed(0)} events), ` +
        `producer waits ${summary.queue.producerWaits} (${summary.queue.producerBlockedMs.toFixed(0)} ms blocked)`,
    );
    console.log(
      `  rows ${rows.n}, distinct ids ${rows.ids}, dead letters ${summary.deadLettered}, lost ${total - rows.ids - summary.deadLettered}, ` +
        `mean push→ack ${summary.meanLatencyMs.toFixed(1)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await demo(Number(process.argv[2] ?? 200_000));
