/**
 * One writer inserting `sluice bench --scenario sqlite`'s rows — the bench event with its one field
 * added, the payload serialised before the clock runs — into a fresh file with the SQLite sink's
 * table and pragmas (WAL, synchronous=NORMAL, `ON CONFLICT(id) DO NOTHING`), in transactions of
 * 1000 rows, one thread, nothing else running in the process. SQLite takes one writer at a time,
 * so this is the most any engine puts into one file. MODE says how the rows are inserted:
 *
 *   row        one prepared statement run per row: the single-writer ceiling as first measured
 *   statement  multi-row statements of ROWS_PER_STATEMENT rows, plain better-sqlite3: the
 *              ceiling of the statement shape the sink now uses
 *   sink       Sluice's SqliteSink.write, one batch per transaction, on SinkRecords carrying
 *              their payload's JSON as the engine's workers hand them over: the writer's own cost
 *
 * Each transaction's rows are built just before it, untimed, and only the transaction is timed
 * (building every row first would keep hundreds of MB alive for the collector to mark, a cost no
 * writer has). The first tenth (at most 10 000 rows) warms up untimed. Prints one JSON line.
 *
 *   node ceiling-script.js FILE.db EVENTS MODE
 */
import Database from 'better-sqlite3';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { benchEvent } from '../../src/harness/bench-event.js';
import { ROWS_PER_STATEMENT } from '../../src/sinks/sqlite-batch-insert.js';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { type CeilingMode, type CeilingRun, MODES } from './ceiling-run.js';

const ROWS_PER_TRANSACTION = 1000;
const TABLE = 'events';
const COLUMNS = '(id, key, source, ts, payload, written_at)';
const TUPLE = '(?, ?, ?, ?, ?, ?)';

/** The scenario's sink records: the event after add-field, its payload serialised once. */
function recordsOf(prefix: string, from: number, to: number, now: number): SinkRecord[] {
  const records: SinkRecord[] = [];
  for (let seq = from; seq < to; seq++) {
    const id = `${prefix}${seq}`;
    const event = benchEvent(id, seq, now);
    const payload = { ...(event.payload as Record<string, unknown>), ingestedBy: 'sluice' };
    records.push({ id, key: event.key, ts: event.ts, payload, payloadJson: JSON.stringify(payload) });
  }
  return records;
}

/** A writer of one transaction of records, the way `mode` inserts them. */
async function writerFor(
  mode: CeilingMode,
  path: string,
): Promise<{ write(records: SinkRecord[]): Promise<void> | void; close(): Promise<void> | void }> {
  if (mode === 'sink') {
    const sink = new SqliteSink(resolveSinkSpec({ type: 'sqlite', path, table: TABLE }));
    await sink.open();
    return { write: (records) => sink.write(records).then(() => undefined), close: () => sink.close() };
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (id TEXT PRIMARY KEY, key TEXT, source TEXT, ts REAL, ` +
      'payload TEXT NOT NULL, written_at REAL NOT NULL)',
  );
  const rows = mode === 'row' ? 1 : ROWS_PER_STATEMENT;
  const many = db.prepare(
    `INSERT INTO ${TABLE} ${COLUMNS} VALUES ${new Array<string>(rows).fill(TUPLE).join(', ')} ON CONFLICT(id) DO NOTHING`,
  );
  const one = db.prepare(`INSERT INTO ${TABLE} ${COLUMNS} VALUES ${TUPLE} ON CONFLICT(id) DO NOTHING`);
  const params = new Array<unknown>(rows * 6);
  const transaction = db.transaction((records: SinkRecord[]) => {
    const at = Date.now();
    let i = 0;
    for (; i + rows <= records.length; i += rows) {
      for (let r = 0; r < rows; r++) {
        const record = records[i + r]!;
        const o = r * 6;
        params[o] = record.id;
        params[o + 1] = record.key ?? null;
        params[o + 2] = record.source ?? null;
        params[o + 3] = record.ts ?? null;
        params[o + 4] = record.payloadJson;
        params[o + 5] = at;
      }
      many.run(params);
    }
    for (; i < records.length; i++) {
      const r = records[i]!;
      one.run(r.id, r.key ?? null, r.source ?? null, r.ts ?? null, r.payloadJson, at);
    }
  });
  return { write: (records) => transaction.immediate(records), close: () => void db.close() };
}

async function main(): Promise<void> {
  const [path, count, mode] = [process.argv[2]!, Number(process.argv[3]), process.argv[4] as CeilingMode];
  if (!path || !Number.isInteger(count) || count < 1 || !MODES.includes(mode))
    throw new Error(`usage: ceiling-script.js FILE.db EVENTS ${MODES.join('|')}`);
  const prefix = `ceiling-${Date.now().toString(36)}-`;
  const now = Date.now();
  const writer = await writerFor(mode, path);
  const warmUp = Math.min(10_000, Math.floor(count / 10));
  let seconds = 0;
  let cpuUs = 0;
  let timed = 0;
  for (let from = 0; from < count; from += ROWS_PER_TRANSACTION) {
    const records = recordsOf(prefix, from, Math.min(count, from + ROWS_PER_TRANSACTION), now);
    if (from < warmUp) {
      await writer.write(records);
      continue;
    }
    const cpu = process.cpuUsage();
    const started = performance.now();
    await writer.write(records);
    seconds += (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
    timed += records.length;
  }
  await writer.close();
  const db = new Database(path, { readonly: true });
  const stored = (db.prepare(`SELECT count(*) AS n FROM ${TABLE}`).get() as { n: number }).n;
  db.close();
  const run: CeilingRun = { mode, events: count, timed, stored, seconds, cpuUs };
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

await main();
