/**
 * The SQLite single-writer ceiling: one thread inserting `sluice bench --scenario sqlite`'s rows —
 * the bench event after its transform (one field added), serialised before the clock runs — into a
 * fresh file, with one prepared INSERT … ON CONFLICT(id) DO NOTHING per row, transactions of 1000,
 * WAL, synchronous=NORMAL: the table and pragmas of Sluice's SQLite sink. SQLite takes one writer
 * at a time, so no engine writes one file faster.
 *
 * Each transaction's rows are built just before it, untimed, and only the transaction is timed:
 * building all of them first would keep hundreds of MB of rows alive for the garbage collector to
 * mark, a cost no writer has. The first tenth (at most 10 000 rows) warms up untimed. Prints one
 * JSON line: `timed` rows in `seconds`.
 *
 *   node sqlite-ceiling-script.js FILE.db EVENTS
 */
import Database from 'better-sqlite3';
import { benchEvent } from '../../src/harness/bench-event.js';

type Row = readonly [string, string | null, null, number | null, string];

const ROWS_PER_TRANSACTION = 1000;
const [path, count] = [process.argv[2]!, Number(process.argv[3])];
const prefix = `ceiling-${Date.now().toString(36)}-`;
const now = Date.now();

function rowsOf(from: number, to: number): Row[] {
  const rows: Row[] = [];
  for (let seq = from; seq < to; seq++) {
    const id = `${prefix}${seq}`;
    const event = benchEvent(id, seq, now);
    const payload = { ...(event.payload as Record<string, unknown>), ingestedBy: 'sluice' };
    rows.push([id, event.key ?? null, null, event.ts ?? null, JSON.stringify(payload)]);
  }
  return rows;
}

const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(
  'CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, key TEXT, source TEXT, ts REAL, ' +
    'payload TEXT NOT NULL, written_at REAL NOT NULL)',
);
const insert = db.prepare(
  'INSERT INTO events (id, key, source, ts, payload, written_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
);
const transaction = db.transaction((rows: Row[]) => {
  const at = Date.now();
  for (const [id, key, source, ts, payload] of rows) insert.run(id, key, source, ts, payload, at);
});

const warmUp = Math.min(10_000, Math.floor(count / 10));
let seconds = 0;
let cpuUs = 0;
for (let from = 0; from < count; from += ROWS_PER_TRANSACTION) {
  const rows = rowsOf(from, Math.min(count, from + ROWS_PER_TRANSACTION));
  if (from < warmUp) {
    transaction.immediate(rows);
    continue;
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  transaction.immediate(rows);
  seconds += (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  cpuUs += used.user + used.system;
}
const timed = count - Math.ceil(warmUp / ROWS_PER_TRANSACTION) * ROWS_PER_TRANSACTION;
const stored = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
db.close();
process.stdout.write(`${JSON.stringify({ events: count, timed, stored, seconds, cpuUs })}\n`);
