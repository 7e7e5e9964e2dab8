/**
 * Synthetic events → PostgreSQL through the idempotent batched insert, beside a baseline of one
 * client running the same INSERT … unnest … ON CONFLICT statement on pre-built arrays, in one run.
 *
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node dist/bench/load/synthetic-postgres.js [--events N]
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { createPipeline } from '../../src/engine/pipeline.js';
import { benchEnv, flag } from '../lib/env.js';

const events = Number(flag('events') ?? 200_000);
const workers = Number(flag('workers') ?? 2);
const batch = Number(flag('batch') ?? 2000);
const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const suffix = `${process.pid}_${Date.now()}`;

function payload(i: number) {
  return {
    user: i % 5000,
    action: i % 3 ? 'view' : 'click',
    path: `/catalog/item/${i % 977}`,
    amount: i % 100,
  };
}

async function baseline(table: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  await client.query(
    `CREATE TABLE ${table} (id TEXT PRIMARY KEY, key TEXT, source TEXT, ts DOUBLE PRECISION, payload JSONB NOT NULL, written_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
  );
  const sql = `INSERT INTO ${table} (id, key, source, ts, payload) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::jsonb[]) ON CONFLICT (id) DO NOTHING`;
  const started = performance.now();
  for (let i = 0; i < events; i += batch) {
    const n = Math.min(batch, events - i);
    const ids = [];
    const keys = [];
    const payloads = [];
    for (let k = 0; k < n; k++) {
      ids.push(`b-${i + k}`);
      keys.push(`user-${(i + k) % 5000}`);
      payloads.push(JSON.stringify(payload(i + k)));
    }
    await client.query(sql, [ids, keys, new Array(n).fill(null), new Array(n).fill(null), payloads]);
  }
  const rate = events / ((performance.now() - started) / 1000);
  await client.query(`DROP TABLE ${table}`);
  await client.end();
  return rate;
}

async function engine(table: string): Promise<{ rate: number; rows: number }> {
  const pipeline = await createPipeline({
    queue: { capacityBytes: 16 * 1024 * 1024 },
    workers: { min: workers, max: workers, concurrentBatchesPerWorker: 2 },
    batch: { maxRecords: batch },
    sink: { type: 'postgres', connectionString, table, poolSize: 2 },
    deadLetter: { type: 'null' },
  });
  const started = performance.now();
  const chunk = [];
  for (let i = 0; i < events; i++) {
    chunk.push({ id: `e-${i}`, key: `user-${i % 5000}`, payload: payload(i) });
    if (chunk.length === 1000) {
      await pipeline.pushMany(chunk);
      chunk.length = 0;
    }
  }
  await pipeline.pushMany(chunk);
  await pipeline.drained();
  const rate = events / ((performance.now() - started) / 1000);
  await pipeline.close();
  const client = new pg.Client({ connectionString });
  await client.connect();
  const { rows } = await client.query(`SELECT count(DISTINCT id)::int AS n FROM ${table}`);
  await client.query(`DROP TABLE ${table}`);
  await client.end();
  return { rate, rows: rows[0].n as number };
}

const env = benchEnv();
const base = await baseline(`bench_pg_base_${suffix}`);
const run = await engine(`bench_pg_engine_${suffix}`);
if (run.rows !== events) throw new Error(`engine stored ${run.rows} of ${events} events`);
console.log(
  `synthetic → PostgreSQL, ${events} events, batches of ${batch}; Node ${env.node}, ${env.cpus} CPUs, ${workers} workers`,
);
console.table([
  { system: 'one client, same INSERT … unnest (baseline)', 'events/s': Math.round(base) },
  {
    system: `engine (${workers} workers × 2 batches, pool 2)`,
    'events/s': Math.round(run.rate),
    'vs baseline': (run.rate / base).toFixed(2),
  },
]);
const json = flag('json');
if (json)
  writeFileSync(
    json,
    `${JSON.stringify({ env, events, batch, workers, baseline: base, engine: run.rate }, null, 2)}\n`,
  );
