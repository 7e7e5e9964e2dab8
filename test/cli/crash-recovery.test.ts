/**
 * Nothing is lost when a `sluice run` process is killed at an arbitrary instant: for every
 * replayable source, SIGKILL mid-stream, start again, and every event is in PostgreSQL exactly
 * once (distinct ids = rows = N). Two processes in one consumer group split the work, and when one
 * is killed the other finishes it. Runs the built CLI (`npm run build` first) against the real
 * servers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../harness/built.js';
import { nats, redis, uniqueName } from '../helpers/brokers.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

const TRANSFORM = fileURLToPath(new URL('../fixtures/run/pid-transform.mjs', import.meta.url));
const N = 6000;

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

let dir: string;
const tables: string[] = [];
const running: Proc[] = [];

/** Starts `sluice run`; `transformUs` is the fixture transform's CPU cost per event. */
function startRun(config: object, name: string, transformUs = 200): Proc {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [CLI, 'run', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PID_TRANSFORM_US: String(transformUs) },
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const proc = { child, exited, output: () => output };
  running.push(proc);
  return proc;
}

async function rows(table: string): Promise<{ total: number; distinct: number; pids: number }> {
  return withClient(async (client) => {
    const exists = await client.query('SELECT to_regclass($1) AS t', [table]);
    if (exists.rows[0].t === null) return { total: 0, distinct: 0, pids: 0 };
    const { rows: r } = await client.query(
      `SELECT count(*)::int AS total, count(DISTINCT id)::int AS distinct,
              count(DISTINCT payload->>'pid')::int AS pids FROM "${table}"`,
    );
    return r[0];
  });
}

async function ids(table: string): Promise<string[]> {
  return withClient(async (client) => {
    const { rows: r } = await client.query(`SELECT id FROM "${table}" ORDER BY id`);
    return r.map((row: { id: string }) => row.id);
  });
}

/** Polls `check` every 50 ms until true; fails naming `what`, with the processes' output. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const logs = running.map((p) => p.output().slice(-2000)).join('\n---\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function pipelineConfig(table: string) {
  return {
    transform: TRANSFORM,
    sink: { type: 'postgres', connectionString: POSTGRES_URL, table },
    workers: { min: 1, max: 1 },
    batch: { maxRecords: 100 },
    log: { level: process.env.CRASH_LOG ?? 'warn' },
    shutdownTimeoutMs: 20_000,
  };
}

/** SIGKILL once some but not all events are stored; returns how many were stored then. */
async function killMidStream(proc: Proc, table: string): Promise<number> {
  await until(async () => (await rows(table)).total >= N / 5, `${N / 5} rows before the kill`);
  proc.child.kill('SIGKILL');
  await proc.exited;
  const stored = (await rows(table)).total;
  return stored;
}

/** Waits for all N, stops the process with SIGTERM (exit 0), and checks exactly-once by id. */
async function finishAndCheck(procs: Proc[], table: string, expected: string[]): Promise<void> {
  await until(async () => (await rows(table)).distinct >= N, `all ${N} events in PostgreSQL`);
  for (const proc of procs) proc.child.kill('SIGTERM');
  for (const proc of procs) expect(await proc.exited, proc.output()).toBe(0);
  if (process.env.CRASH_LOG) for (const proc of procs) console.log(proc.output());
  const counts = await rows(table);
  expect(counts.total).toBe(N);
  expect(counts.distinct).toBe(N);
  expect(await ids(table)).toEqual([...expected].sort());
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
});
afterEach(async () => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});
afterAll(async () => {
  for (const table of tables) await dropTable(table);
  rmSync(dir, { recursive: true, force: true });
});

announcePostgres('crash recovery');

describe.skipIf(postgresSkip)('crash recovery: ndjson file', () => {
  beforeAll(() => requirePostgres());

  it('SIGKILL mid-file, run again: every line is in PostgreSQL exactly once', async () => {
    const table = uniqueName('crash_ndjson');
    tables.push(table);
    const expected = Array.from({ length: N }, (_, i) => `line-${i}`);
    const file = join(dir, `${table}.ndjson`);
    writeFileSync(file, `${expected.map((id, n) => JSON.stringify({ id, n })).join('\n')}\n`);
    const config = { source: { type: 'ndjson', path: file }, ...pipelineConfig(table) };
    const first = startRun(config, `${table}-1`);
    const storedAtKill = await killMidStream(first, table);
    expect(storedAtKill).toBeLessThan(N);
    // A file is replayed from its start; the sink's dedup by id absorbs what was stored before.
    const second = startRun(config, `${table}-2`);
    expect(await second.exited, second.output()).toBe(0);
    const counts = await rows(table);
    expect(counts).toMatchObject({ total: N, distinct: N });
    expect(await ids(table)).toEqual([...expected].sort());
  });
  it('SIGKILL mid-file, run again: lines without an id of their own are stored once each too', async () => {
    const table = uniqueName('crash_ndjson_noid');
    tables.push(table);
    const file = join(dir, `${table}.ndjson`);
    writeFileSync(file, `${Array.from({ length: N }, (_, n) => JSON.stringify({ n })).join('\n')}\n`);
    const config = { source: { type: 'ndjson', path: file }, ...pipelineConfig(table) };
    const first = startRun(config, `${table}-1`);
    const storedAtKill = await killMidStream(first, table);
    expect(storedAtKill).toBeLessThan(N);
    const second = startRun(config, `${table}-2`);
    expect(await second.exited, second.output()).toBe(0);
    // Each line's id comes from the file and its byte offset: the same on both reads.
    expect(await rows(table)).toMatchObject({ total: N, distinct: N });
    const stored = await withClient(async (client) => {
      const { rows: r } = await client.query(
        `SELECT count(DISTINCT payload->>'n')::int AS lines FROM "${table}"`,
      );
      return r[0].lines as number;
    });
    expect(stored).toBe(N);
  });
});

nats.announce('crash recovery: nats-jetstream');
describe.skipIf(postgresSkip || nats.skip)('crash recovery: nats-jetstream', () => {
  let nc: NatsConnection;
  const streams: string[] = [];
  beforeAll(async () => {
    requirePostgres();
    nats.require();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  async function publish(stream: string): Promise<{ subject: string; expected: string[] }> {
    const subject = uniqueName('crash');
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
    streams.push(stream);
    const js = nc.jetstream();
    const expected = Array.from({ length: N }, (_, i) => `nats-${i}`);
    await Promise.all(expected.map((id, n) => js.publish(`${subject}.e`, JSON.stringify({ id, n }))));
    return { subject, expected };
  }

  function config(stream: string, table: string) {
    return {
      source: {
        type: 'nats-jetstream',
        servers: nats.url,
        stream,
        durable: 'sluice',
        batch: 100,
        ackWaitMs: 2000,
        // The durable's window, shared by the group: by default it is what a ring holds (far more
        // than N), so the first process could take the whole stream before the second pulls.
        maxAckPending: 500,
      },
      ...pipelineConfig(table),
    };
  }

  it('SIGKILL mid-stream, start again: every message is in PostgreSQL exactly once', async () => {
    const stream = uniqueName('CRASH');
    const table = uniqueName('crash_nats');
    tables.push(table);
    const { expected } = await publish(stream);
    const first = startRun(config(stream, table), `${table}-1`);
    expect(await killMidStream(first, table)).toBeLessThan(N);
    const second = startRun(config(stream, table), `${table}-2`);
    await finishAndCheck([second], table, expected);
  });

  it('two processes share the durable consumer; SIGKILL one, the other finishes: exactly once, both did work', async () => {
    const stream = uniqueName('GROUP');
    const table = uniqueName('group_nats');
    tables.push(table);
    const { expected } = await publish(stream);
    // A slower transform (1 ms per event): both processes are still busy when one is killed.
    const a = startRun(config(stream, table), `${table}-a`, 1000);
    const b = startRun(config(stream, table), `${table}-b`, 1000);
    await until(async () => (await rows(table)).pids >= 2, 'both processes to store events');
    expect(await killMidStream(a, table)).toBeLessThan(N);
    await finishAndCheck([b], table, expected);
    expect((await rows(table)).pids).toBeGreaterThanOrEqual(2);
  });
  it('fan-out to PostgreSQL, SQLite and NDJSON routes; SIGKILL mid-stream, start again: every message is in each route (by id), PostgreSQL and SQLite exactly once', async () => {
    const stream = uniqueName('FANOUT');
    const table = uniqueName('fanout_nats');
    tables.push(table);
    const { expected } = await publish(stream);
    const lite = join(dir, `${table}.db`);
    const archive = join(dir, `${table}.ndjson`);
    const every = { path: 'id', matches: '^nats-' };
    const { sink: _sink, ...rest } = config(stream, table);
    const fanOut = {
      ...rest,
      // Every event goes to the three routes; a message is acknowledged only once all three wrote it.
      routes: {
        pg: { sink: { type: 'postgres', connectionString: POSTGRES_URL, table }, when: every },
        lite: { sink: { type: 'sqlite', path: lite }, when: every },
        archive: { sink: { type: 'ndjson', path: archive }, when: every },
      },
    };
    const first = startRun(fanOut, `${table}-1`);
    expect(await killMidStream(first, table)).toBeLessThan(N);
    const second = startRun(fanOut, `${table}-2`);
    await finishAndCheck([second], table, expected);
    const db = new Database(lite, { readonly: true });
    try {
      const counts = db
        .prepare('SELECT count(*) AS total, count(DISTINCT id) AS distinct_ids FROM events')
        .get();
      expect(counts).toEqual({ total: N, distinct_ids: N });
      const stored = (db.prepare('SELECT id FROM events ORDER BY id').all() as { id: string }[]).map(
        (r) => r.id,
      );
      expect(stored).toEqual([...expected].sort());
    } finally {
      db.close();
    }
    // NDJSON appends: a message redelivered after the kill may appear twice, never be missing; only
    // what the killed process held unacknowledged is redelivered, at most the durable's window.
    const lines = readFileSync(archive, 'utf8')
      .split('\n')
      .filter((line) => line !== '');
    const archived = lines.map((line) => (JSON.parse(line) as { id: string }).id);
    expect([...new Set(archived)].sort()).toEqual([...expected].sort());
    expect(lines.length - N).toBeLessThanOrEqual(500);
  });
});

redis.announce('crash recovery: redis-streams');
describe.skipIf(postgresSkip || redis.skip)('crash recovery: redis-streams', () => {
  let client: Redis;
  const keys: string[] = [];
  beforeAll(() => {
    requirePostgres();
    redis.require();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  async function publish(stream: string): Promise<string[]> {
    keys.push(stream);
    const expected = Array.from({ length: N }, (_, i) => `redis-${i}`);
    const pipeline = client.pipeline();
    for (const [n, id] of expected.entries()) pipeline.xadd(stream, '*', 'data', JSON.stringify({ id, n }));
    await pipeline.exec();
    return expected;
  }

  function config(stream: string, table: string, consumer?: string) {
    return {
      source: {
        type: 'redis-streams',
        url: redis.url,
        stream,
        group: 'sluice',
        ...(consumer ? { consumer } : {}),
        batch: 100,
        blockMs: 200,
        claimIdleMs: 2000,
        // Bounds what one process holds, so the other finds work left.
        maxPending: 500,
      },
      ...pipelineConfig(table),
    };
  }

  it('SIGKILL mid-stream, start again under a new consumer name: every entry is in PostgreSQL exactly once', async () => {
    const stream = uniqueName('crash');
    const table = uniqueName('crash_redis');
    tables.push(table);
    const expected = await publish(stream);
    const first = startRun(config(stream, table), `${table}-1`);
    expect(await killMidStream(first, table)).toBeLessThan(N);
    // The default consumer name has the pid in it: the dead one's pending entries are claimed.
    const second = startRun(config(stream, table), `${table}-2`);
    await finishAndCheck([second], table, expected);
    expect((await client.xpending(stream, 'sluice'))[0]).toBe(0);
  });

  it('two processes in one consumer group; SIGKILL one, the other claims its entries: exactly once, both did work', async () => {
    const stream = uniqueName('group');
    const table = uniqueName('group_redis');
    tables.push(table);
    const expected = await publish(stream);
    const a = startRun(config(stream, table, 'a'), `${table}-a`, 1000);
    const b = startRun(config(stream, table, 'b'), `${table}-b`, 1000);
    await until(async () => (await rows(table)).pids >= 2, 'both processes to store events');
    expect(await killMidStream(a, table)).toBeLessThan(N);
    await finishAndCheck([b], table, expected);
    expect((await rows(table)).pids).toBeGreaterThanOrEqual(2);
    expect((await client.xpending(stream, 'sluice'))[0]).toBe(0);
  });
});
