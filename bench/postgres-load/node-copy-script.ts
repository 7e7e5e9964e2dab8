/**
 * The simplest fast Node load: one thread, one connection, the file streamed into COPY of a
 * temporary table, then one INSERT … SELECT … ON CONFLICT, in one transaction.
 *
 *   node node-copy-script.js DATABASE_URL FILE TABLE
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createTableSql, STAGE_COPY_OPTIONS, STAGE_TABLE_SQL, stagedInsertSql } from './target-table.js';

const [url, file, table] = process.argv.slice(2) as [string, string, string];
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  await client.query('BEGIN');
  await client.query(createTableSql(table));
  await client.query(STAGE_TABLE_SQL);
  await pipeline(
    createReadStream(file),
    client.query(copyFrom(`COPY stage (line) FROM STDIN WITH ${STAGE_COPY_OPTIONS}`)),
  );
  await client.query(stagedInsertSql(table));
  await client.query('COMMIT');
} finally {
  await client.end();
}
