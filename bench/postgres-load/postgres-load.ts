/**
 * Sluice against what a user would pick instead, on the same job, machine and invocation:
 *
 *   ndjson     an NDJSON file into PostgreSQL, idempotent by id — `sluice run` beside psql's \copy,
 *              a Node COPY script, a Python asyncpg loader and a plain Node INSERT loop;
 *   cpu-heavy  a ~25 µs/event transform into PostgreSQL — Sluice beside BullMQ (2 processes × 8);
 *   sqlite     `sluice bench --scenario sqlite` beside the SQLite single-writer ceiling.
 *
 * Every round runs every system once, the order rotated; figures are medians, ratios are from the
 * same invocation. Markdown on stdout; `--json FILE` keeps every figure. See docs/BENCHMARKS.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { benchEnv } from '../lib/env.js';
import type { BenchContext, WorkloadResult } from './bench-context.js';
import { cpuHeavyWorkload } from './cpu-heavy-workload.js';
import { isLoopback, type LoadFlags, parseLoadFlags, USAGE, type WorkloadName } from './load-flags.js';
import { ndjsonWorkload } from './ndjson-workload.js';
import { sqliteWorkload } from './sqlite-workload.js';
import { dropTable } from './target-table.js';

const WORKLOAD: Record<WorkloadName, (context: BenchContext) => Promise<WorkloadResult>> = {
  ndjson: ndjsonWorkload,
  'cpu-heavy': cpuHeavyWorkload,
  sqlite: sqliteWorkload,
};

let flags: LoadFlags | undefined;
try {
  flags = parseLoadFlags(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(64);
}
if (!flags) {
  console.log(USAGE);
  process.exit(0);
}
const databaseUrl =
  process.env.POSTGRES_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
for (const [name, url] of [
  ['POSTGRES_URL/DATABASE_URL', databaseUrl],
  ['REDIS_URL', redisUrl],
] as const) {
  if (!isLoopback(url)) {
    console.error(`${name} must point at this machine (127.0.0.1, localhost or ::1), got ${url}`);
    process.exit(64);
  }
}

const env = benchEnv();
const loadAtStart = loadavg()[0]!;
// A checkpoint, a count or a drop that takes longer than this is a server in trouble.
const admin = new pg.Client({
  connectionString: databaseUrl,
  connectionTimeoutMillis: 10_000,
  statement_timeout: 300_000,
  query_timeout: 310_000,
});
const context: BenchContext = {
  flags,
  env,
  databaseUrl,
  redisUrl,
  admin,
  root: mkdtempSync(join(tmpdir(), 'sluice-pgload-')),
  tables: [],
  tag: Date.now().toString(36),
};
let result: WorkloadResult | undefined;
try {
  await admin.connect();
  result = await WORKLOAD[flags.workload](context);
} finally {
  for (const table of context.tables) await dropTable(admin, table).catch(() => undefined);
  await admin.end().catch(() => undefined);
  rmSync(context.root, { recursive: true, force: true });
}
const loadAtEnd = loadavg()[0]!;
console.log(
  `${result.markdown}\n\nLoad average (1 min): ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end.`,
);
if (flags.json) {
  writeFileSync(
    flags.json,
    `${JSON.stringify(
      {
        env,
        loadAverage: { start: loadAtStart, end: loadAtEnd },
        flags: { ...flags, json: undefined },
        /** Every table, queue and temporary name of this invocation contains it. */
        tag: context.tag,
        ...result.json,
      },
      null,
      2,
    )}\n`,
  );
}
