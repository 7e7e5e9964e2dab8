/**
 * What a Node developer writes without COPY: one thread, one connection, lines read and parsed
 * with JSON.parse, batches of 1000 sent one at a time as
 * INSERT … SELECT FROM unnest(…) ON CONFLICT (id) DO NOTHING. The line itself is the payload.
 *
 *   node node-insert-script.js DATABASE_URL FILE TABLE
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { createTableSql, unnestInsertSql } from './target-table.js';

const BATCH = 1000;
const [url, file, table] = process.argv.slice(2) as [string, string, string];
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  await client.query(createTableSql(table));
  const insert = unnestInsertSql(table);
  let ids: string[] = [];
  let ts: number[] = [];
  let payloads: string[] = [];
  const flush = async () => {
    const none = ids.map(() => null);
    await client.query(insert, [ids, none, none, ts, payloads]);
    ids = [];
    ts = [];
    payloads = [];
  };
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line === '') continue;
    const event = JSON.parse(line);
    ids.push(event.id);
    ts.push(event.ts);
    payloads.push(line);
    if (ids.length === BATCH) await flush();
  }
  if (ids.length > 0) await flush();
} finally {
  await client.end();
}
