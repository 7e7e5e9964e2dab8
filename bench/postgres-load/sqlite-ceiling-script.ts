/**
 * The SQLite single-writer ceiling: one thread inserting `sluice bench --scenario sqlite`'s rows —
 * the bench event after its transform (one field added), already serialised — into a fresh file,
 * with one prepared INSERT … ON CONFLICT(id) DO NOTHING per row, transactions of 1000, WAL,
 * synchronous=NORMAL: the table and pragmas of Sluice's SQLite sink. SQLite takes one writer at a
 * time, so no engine writes one file faster. Prints one JSON line.
 *
 *   node sqlite-ceiling-script.js FILE.db EVENTS
 */
import Database from 'better-sqlite3';
import { benchEvent } from '../../src/harness/bench-event.js';

const ROWS_PER_TRANSACTION = 1000;
const [path, count] = [process.argv[2]!, Number(process.argv[3])];
const prefix = `ceiling-${Date.now().toString(36)}-`;
const now = Date.now();
const rows = Array.from({ length: count }, (_, seq) => {
  const event = benchEvent(`${prefix}${seq}`, seq, now);
  const payload = { ...(event.payload as Record<string, unknown>), ingestedBy: 'sluice' };
  return [event.id, event.key ?? null, null, event.ts ?? null, JSON.stringify(payload)] as const;
});

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
const batch = db.transaction((from: number, to: number) => {
  const at = Date.now();
  for (let i = from; i < to; i++) {
    const [id, key, source, ts, payload] = rows[i]!;
    insert.run(id, key, source, ts, payload, at);
  }
});
const cpu = process.cpuUsage();
const started = performance.now();
for (let from = 0; from < count; from += ROWS_PER_TRANSACTION) {
  batch.immediate(from, Math.min(count, from + ROWS_PER_TRANSACTION));
}
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const stored = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
db.close();
process.stdout.write(
  `${JSON.stringify({ events: count, stored, seconds, cpuUs: used.user + used.system })}\n`,
);
