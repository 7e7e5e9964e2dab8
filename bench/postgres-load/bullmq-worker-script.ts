/**
 * A BullMQ worker process: concurrency 8 (bullmq-setup.ts), each job 100 lines, each line decoded, run through the
 * cpu-heavy transform and serialised, the job's rows written as one batched, idempotent INSERT …
 * unnest … ON CONFLICT (id) DO NOTHING through a pg Pool. Reports each completed job to its parent
 * (`{ type: 'done', events, at }`), and `ready` once connected; closes on `close`.
 *
 *   node bullmq-worker-script.js REDIS_URL QUEUE DATABASE_URL TABLE
 */
import { Worker } from 'bullmq';
import pg from 'pg';
import { BULLMQ_CONCURRENCY, bullmqConnection } from './bullmq-setup.js';
import { epochMs } from './child-run.js';
import { transformLine } from './cpu-heavy-event.js';
import { createTableSql, unnestInsertSql } from './target-table.js';

const [redisUrl, queue, databaseUrl, table] = process.argv.slice(2) as [string, string, string, string];
const send = (message: object) => process.send!(message);
const pool = new pg.Pool({ connectionString: databaseUrl });
try {
  await pool.query(createTableSql(table));
} catch (error) {
  // The other worker process created it at the same moment.
  if (!['23505', '42P07'].includes((error as { code?: string }).code ?? '')) throw error;
}
const insert = unnestInsertSql(table);
const worker = new Worker<{ lines: string[] }, number>(
  queue,
  async (job) => {
    const rows = job.data.lines.map(transformLine);
    const none = rows.map(() => null);
    await pool.query(insert, [
      rows.map((r) => r.id),
      none,
      none,
      rows.map((r) => r.ts ?? null),
      rows.map((r) => r.payload),
    ]);
    return rows.length;
  },
  {
    connection: bullmqConnection(redisUrl, true),
    concurrency: BULLMQ_CONCURRENCY,
  },
);
worker.on('completed', (_job, events) => send({ type: 'done', events, at: epochMs() }));
worker.on('failed', (_job, error) => send({ type: 'failed', reason: error.message }));
await worker.waitUntilReady();
send({ type: 'ready' });
process.on('message', async (message: { type?: string }) => {
  if (message.type !== 'close') return;
  await worker.close();
  await pool.end();
  process.disconnect();
});
