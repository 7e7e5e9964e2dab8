/**
 * The ceiling (copy-ceiling-system.ts): COPY batches encoded beforehand, sent over LANES
 * connections, each batch a COPY of its own straight into the table (one transaction each). Each
 * lane takes the next batch as its last one is committed, as a worker takes the next batch.
 *
 *   node copy-ceiling-script.js DATABASE_URL BATCHES_FILE TABLE LANES
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createTableSql } from './target-table.js';

const [url, file, table, lanes] = process.argv.slice(2) as [string, string, string, string];
const data = readFileSync(file);
const batches: Buffer[] = [];
for (let at = 0; at < data.length; ) {
  const length = data.readUInt32LE(at);
  batches.push(data.subarray(at + 4, at + 4 + length));
  at += 4 + length;
}
const clients = await Promise.all(
  Array.from({ length: Number(lanes) }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }),
);
try {
  await clients[0]!.query(createTableSql(table));
  const sql = `COPY "${table}" (id, key, source, ts, payload) FROM STDIN (FORMAT binary)`;
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < batches.length) {
        const rows = batches[next++]!;
        await new Promise<void>((resolve, reject) => {
          const stream = client.query(copyFrom(sql));
          stream.on('error', reject);
          stream.once('finish', resolve);
          stream.end(rows);
        });
      }
    }),
  );
} finally {
  await Promise.all(clients.map((client) => client.end()));
}
