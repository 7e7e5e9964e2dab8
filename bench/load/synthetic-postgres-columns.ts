/**
 * Synthetic events → PostgreSQL, the same events written two ways in alternating rounds: into the
 * envelope table (binary COPY, id and payload as jsonb) as the baseline, and into a table of their
 * own through mapped columns (a text COPY straight into the table while no batch meets a stored
 * key; else COPY into a staging table of the columns' own types, then INSERT … SELECT ON CONFLICT). Medians over
 * the rounds, and the ratio.
 *
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node dist/bench/load/synthetic-postgres-columns.js \
 *   [--events N] [--workers N] [--batch N] [--rounds N] [--action nothing|update]
 */
import pg from 'pg';
import { createPipeline } from '../../src/engine/pipeline.js';
import type { SinkSpec } from '../../src/sinks/sink-spec.js';
import { benchEnv, flag, median } from '../lib/env.js';

const events = Number(flag('events') ?? 200_000);
const workers = Number(flag('workers') ?? 1);
const batch = Number(flag('batch') ?? 2000);
const rounds = Number(flag('rounds') ?? 3);
const action = (flag('action') ?? 'nothing') as 'nothing' | 'update';
const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const suffix = `${process.pid}_${Date.now()}`;

function payload(i: number) {
  return {
    order: i,
    user: i % 5000,
    action: i % 3 ? 'view' : 'click',
    path: `/catalog/item/${i % 977}`,
    amount: (i % 10_000) / 100,
  };
}

async function sql(text: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query(text);
    return Array.isArray(rows) && rows[0]?.n !== undefined ? Number(rows[0].n) : 0;
  } finally {
    await client.end();
  }
}

/** Events per second through one pipeline writing to `sink`; checks every event was stored. */
async function measure(sink: SinkSpec, table: string, keyColumn: string): Promise<number> {
  const pipeline = await createPipeline({
    queue: { capacityBytes: 16 * 1024 * 1024 },
    workers: { min: workers, max: workers, concurrentBatchesPerWorker: 2 },
    batch: { maxRecords: batch },
    sink,
    deadLetter: { type: 'null' },
  });
  const started = performance.now();
  const chunk = [];
  for (let i = 0; i < events; i++) {
    chunk.push({ id: `e-${i}`, key: `user-${i % 5000}`, ts: 1_700_000_000_000 + i, payload: payload(i) });
    if (chunk.length === 1000) {
      await pipeline.pushMany(chunk);
      chunk.length = 0;
    }
  }
  await pipeline.pushMany(chunk);
  await pipeline.drained();
  const rate = events / ((performance.now() - started) / 1000);
  await pipeline.close();
  const stored = await sql(`SELECT count(DISTINCT ${keyColumn})::int AS n FROM ${table}`);
  if (stored !== events) throw new Error(`${table}: stored ${stored} of ${events} events`);
  return rate;
}

async function envelope(round: number): Promise<number> {
  const table = `bench_pg_envelope_${suffix}_${round}`;
  try {
    return await measure({ type: 'postgres', connectionString, table }, table, 'id');
  } finally {
    await sql(`DROP TABLE IF EXISTS ${table}`);
  }
}

async function mapped(round: number): Promise<number> {
  const table = `bench_pg_mapped_${suffix}_${round}`;
  await sql(
    `CREATE TABLE ${table} (order_id bigint PRIMARY KEY, user_id integer, action text, path text,
       amount numeric(10,2), at timestamptz)`,
  );
  try {
    return await measure(
      {
        type: 'postgres',
        connectionString,
        table,
        columns: {
          order_id: 'payload.order',
          user_id: 'payload.user',
          action: 'payload.action',
          path: 'payload.path',
          amount: 'payload.amount',
          at: 'ts',
        },
        onConflict: { target: ['order_id'], action },
      },
      table,
      'order_id',
    );
  } finally {
    await sql(`DROP TABLE IF EXISTS ${table}`);
  }
}

const env = benchEnv();
const envelopeRates: number[] = [];
const mappedRates: number[] = [];
for (let round = 0; round < rounds; round++) {
  envelopeRates.push(await envelope(round));
  mappedRates.push(await mapped(round));
}
const base = median(envelopeRates);
const columns = median(mappedRates);
console.log(
  `synthetic → PostgreSQL, ${events} events, batches of ${batch}, ${workers} worker(s), ${rounds} rounds; ` +
    `Node ${env.node}, ${env.cpus} CPUs`,
);
console.table([
  { table: 'envelope (binary COPY, baseline)', 'median events/s': Math.round(base) },
  {
    table: `own table, 6 mapped columns (text COPY straight in, staged on a conflict; DO ${action.toUpperCase()})`,
    'median events/s': Math.round(columns),
    'vs baseline': (columns / base).toFixed(2),
  },
]);
