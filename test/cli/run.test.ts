/**
 * `sluice run` and `sluice validate`, run as the built CLI (`npm run build` first), plus the config
 * validation they share.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { RunConfigError } from '../../src/errors.js';
import { CLI } from '../harness/built.js';
import { redis, uniqueName } from '../helpers/brokers.js';

const STUCK_SINK = fileURLToPath(new URL('../fixtures/run/stuck-sink.mjs', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Started {
  child: ChildProcess;
  /** Resolves when stderr has printed a line matching the pattern. */
  logged(pattern: RegExp): Promise<void>;
  done: Promise<Run>;
  /** What stderr has printed so far. */
  stderr(): string;
}

/** Runs started by the current test; any still running after it (a test that failed) are killed. */
const children: ChildProcess[] = [];

function start(...args: string[]): Started {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    for (const waiter of waiters.filter((w) => w.pattern.test(stderr))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const logged = (pattern: RegExp) =>
    pattern.test(stderr)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          waiters.push({ pattern, resolve });
          done.then((run) => reject(new Error(`exited ${run.code} before ${pattern}: ${run.stderr}`)));
        });
  return { child, logged, done, stderr: () => stderr };
}

const sluice = (...args: string[]) => start(...args).done;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-run-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(config: unknown, name = 'sluice.json'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

function rows(path: string): { n: number; uniq: number } {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) AS n, count(DISTINCT id) AS uniq FROM events').get() as {
      n: number;
      uniq: number;
    };
  } finally {
    db.close();
  }
}

/** The summary line's counts. */
function summary(stdout: string): { written: number; deadLettered: number } {
  const match = /sluice run: (\d+) written, (\d+) dead-lettered/.exec(stdout);
  if (!match) throw new Error(`no summary in ${JSON.stringify(stdout)}`);
  return { written: Number(match[1]), deadLettered: Number(match[2]) };
}

/** Every problem a config has, as `sluice validate` would print them. */
function problems(config: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    resolveRunConfig(config, dir, env);
    return [];
  } catch (error) {
    if (error instanceof RunConfigError) return error.errors;
    throw error;
  }
}

/** The problems `sluice validate` printed, one per indented line under its heading. */
function problemLines(stderr: string): string[] {
  const [heading, ...lines] = stderr.trimEnd().split('\n');
  expect(heading).toMatch(/^sluice: .* is not a valid config:$/);
  return lines.map((line) => line.replace(/^ {2}/, ''));
}

/** `${NAME}` as it appears in a config file. */
const ref = (name: string) => ['$', '{', name, '}'].join('');
const SQLITE = { type: 'sqlite', path: 'out.db' };

describe('run config validation', () => {
  it('a bad source field is named with its value', () => {
    expect(problems({ source: { type: 'synthetic', rate: -5 }, sink: SQLITE })).toEqual([
      'source.rate must be a positive number or "max", got -5',
    ]);
    expect(problems({ source: { type: 'synthetic', events: 1.5 }, sink: SQLITE })).toEqual([
      'source.events must be a positive integer, got 1.5',
    ]);
    expect(problems({ source: { type: 'kafka' }, sink: SQLITE })).toEqual([
      'source.type must be "synthetic", "ndjson", "http", "nats-jetstream" or "redis-streams", got "kafka"',
    ]);
    expect(problems({ source: { type: 'ndjson' }, sink: SQLITE })).toEqual([
      'source.path must be a file path or "-" for stdin, got undefined',
    ]);
  });

  it('a reference to an unset environment variable is an error naming the variable and the field', () => {
    const config = {
      source: { type: 'synthetic' },
      sink: { type: 'postgres', connectionString: ref('PG_URL') },
    };
    expect(problems(config)).toEqual([
      `sink.connectionString refers to ${ref('PG_URL')}, which is not set, got "${ref('PG_URL')}"`,
    ]);
    expect(problems(config, { PG_URL: 'postgres://db/x' })).toEqual([]);
  });

  it('environment variables are interpolated in every string value and relative paths resolve against the config file', () => {
    const config = resolveRunConfig(
      {
        source: { type: 'ndjson', path: `${ref('IN')}.ndjson` },
        sink: { type: 'sqlite', path: `db/${ref('OUT')}` },
      },
      '/etc/sluice',
      { IN: 'events', OUT: 'out.db' },
    );
    expect(config.source).toEqual({ type: 'ndjson', path: '/etc/sluice/events.ndjson' });
    expect(config.pipeline.sink).toEqual({
      type: 'sqlite',
      path: '/etc/sluice/db/out.db',
      table: 'events',
      synchronous: 'normal',
      busyTimeoutMs: 10_000,
    });
    expect(config.shutdownTimeoutMs).toBe(30_000);
  });

  it('unknown top-level keys, pipeline options and every other problem are all reported at once', () => {
    expect(
      problems({
        source: { type: 'synthetic', keys: 0 },
        sink: SQLITE,
        sinks: [],
        queue: { capacityBytes: 1000 },
        metrics: { port: 70000 },
        shutdownTimeoutMs: 'soon',
      }),
    ).toEqual([
      expect.stringMatching(/^sinks is not a known field .*, got \[\]$/),
      'source.keys must be a positive integer, got 0',
      'metrics.port must be a port from 0 to 65535, got 70000',
      'shutdownTimeoutMs must be an integer of milliseconds from 1 to 2147483647, got "soon"',
      'queue.capacityBytes must be a power of two from 4096 to 1073741824, got 1000',
    ]);
  });

  it('a missing sink is an error rather than a silent default', () => {
    expect(problems({ source: { type: 'synthetic' } })).toEqual([
      'sink must be given (or routes), got undefined',
    ]);
  });
});

describe('sluice validate', () => {
  it('prints "config OK" and exits 0 for a valid config', async () => {
    const run = await sluice(
      'validate',
      '--config',
      writeConfig({ source: { type: 'synthetic' }, sink: SQLITE }),
    );
    expect(run).toMatchObject({ code: 0, stdout: 'config OK\n' });
  });

  it('reads a .yaml config as YAML', async () => {
    const path = join(dir, 'sluice.yaml');
    writeFileSync(path, 'source: { type: synthetic }\nsink: { type: sqlite, path: out.db }\n');
    const run = await sluice('validate', '--config', path);
    expect(run).toMatchObject({ code: 0, stdout: 'config OK\n' });
  });

  it('prints a YAML syntax error with its line and exits 64', async () => {
    const path = join(dir, 'sluice.yaml');
    writeFileSync(path, 'source:\n  type: synthetic\n  rate: max: 5\n');
    const run = await sluice('validate', '--config', path);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('the file is not valid YAML at line 3, column 9');
  });

  it('prints every problem and exits 64 for an invalid one', async () => {
    const config = writeConfig({ source: { type: 'synthetic', rate: -5 }, sink: SQLITE, extra: true });
    const run = await sluice('validate', '--config', config);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('source.rate must be a positive number or "max", got -5');
    expect(run.stderr).toContain('extra is not a known field');
  });

  const SQL_IDENTIFIER = 'an SQL identifier (letters, digits and _, not starting with a digit, at most 63)';

  it.each<[string, Record<string, unknown>, string]>([
    [
      'an sqlite table that is not an SQL identifier',
      { sink: { ...SQLITE, table: 'bad name; drop' } },
      `sink.table must be ${SQL_IDENTIFIER}, got "bad name; drop"`,
    ],
    [
      'an sqlite synchronous mode that does not exist',
      { sink: { ...SQLITE, synchronous: 'sometimes' } },
      'sink.synchronous must be "normal" or "full", got "sometimes"',
    ],
    [
      'a negative sqlite busy timeout',
      { sink: { ...SQLITE, busyTimeoutMs: -5 } },
      'sink.busyTimeoutMs must be an integer of milliseconds from 0 to 2147483647, got -5',
    ],
    [
      'a dead-letter fsync mode that would turn durability off',
      { deadLetter: { type: 'ndjson', path: 'dead.ndjson', fsync: 'always' } },
      'deadLetter.fsync must be "batch" or "never", got "always"',
    ],
    [
      'an unknown queue option',
      { queue: { bogus: 1 } },
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1',
    ],
  ])('refuses %s, naming the field and the value (exit 64)', async (_case, fields, problem) => {
    const config = writeConfig({ source: { type: 'synthetic' }, sink: SQLITE, ...fields });
    const run = await sluice('validate', '--config', config);
    expect(run.code).toBe(64);
    expect(run.stdout).toBe('');
    expect(problemLines(run.stderr)).toEqual([problem]);
  });

  it('lists every problem of a file at once, whichever section each is in', async () => {
    const config = writeConfig({
      source: { type: 'synthetic', events: 0 },
      sink: { ...SQLITE, table: 'bad name; drop', busyTimeoutMs: -5 },
      deadLetter: { type: 'ndjson', path: 'dead.ndjson', fsync: 'always' },
      queue: { bogus: 1, partitions: 0 },
      workers: { startupTimeoutMs: 0 },
      retry: { maxElapsedMs: -1 },
      metrics: { port: 70000 },
    });
    const run = await sluice('validate', '--config', config);
    expect(run.code).toBe(64);
    expect(problemLines(run.stderr)).toEqual([
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1',
      'source.events must be a positive integer, got 0',
      `sink.table must be ${SQL_IDENTIFIER}, got "bad name; drop"`,
      'sink.busyTimeoutMs must be an integer of milliseconds from 0 to 2147483647, got -5',
      'deadLetter.fsync must be "batch" or "never", got "always"',
      'metrics.port must be a port from 0 to 65535, got 70000',
      'queue.partitions must be an integer from 1 to 1024, got 0',
      'workers.startupTimeoutMs must be an integer of milliseconds from 1 to 2147483647, got 0',
      'retry.maxElapsedMs must be a number of milliseconds ≥ 0 or Infinity, got -1',
    ]);
  });

  it('exits 64 for a file that is not JSON', async () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "source": ');
    const run = await sluice('validate', '--config', path);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('not valid JSON');
  });
});

describe('sluice run', () => {
  it('an ndjson file source is consumed to EOF, drained, and malformed lines are dead-lettered', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `e${i}`, payload: { i } }));
    lines[17] = '{"id": "broken",';
    lines[250] = 'not json at all';
    // Lines without an id of their own: theirs is the file's digest and the line's byte offset.
    lines[40] = JSON.stringify({ payload: { i: 40 } });
    lines[41] = JSON.stringify({ id: null, payload: { i: 41 } });
    writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
    const offsetOf = (line: number) =>
      lines.slice(0, line).reduce((bytes, text) => bytes + Buffer.byteLength(text) + 1, 0);
    const config = writeConfig({
      source: { type: 'ndjson', path: 'in.ndjson' },
      sink: SQLITE,
      deadLetter: { type: 'ndjson', path: 'dead.ndjson' },
      workers: { max: 2 },
    });
    const run = await sluice('run', '--config', config);
    expect(run.code, run.stderr).toBe(0);
    expect(summary(run.stdout)).toEqual({ written: 298, deadLettered: 2 });
    expect(rows(join(dir, 'out.db'))).toEqual({ n: 298, uniq: 298 });
    const dead = readFileSync(join(dir, 'dead.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(dead.map((d) => d.payload.reason)).toEqual(['invalid-json', 'invalid-json']);
    expect(dead.map((d) => d.payload.event.raw).sort()).toEqual(['not json at all', '{"id": "broken",']);
    // Every one of them, written or dead-lettered, keeps the id it was given as it was read.
    const fallback = (line: number) =>
      expect.stringMatching(new RegExp(`^ndjson-[0-9a-f]{16}:${offsetOf(line)}$`));
    expect(dead.map((d) => d.payload.event.id)).toEqual([fallback(17), fallback(250)]);
    const db = new Database(join(dir, 'out.db'), { readonly: true });
    try {
      const ids = db.prepare("SELECT id FROM events WHERE id NOT LIKE 'e%' ORDER BY id").pluck().all();
      expect(ids).toEqual([fallback(40), fallback(41)]);
    } finally {
      db.close();
    }
  });

  it('routes from a config: each route gets what its rule takes, and the summary counts by route', async () => {
    const lines = Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ id: `r${i}`, kind: i % 4 === 0 ? 'order' : 'view' }),
    );
    writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
    const config = writeConfig({
      source: { type: 'ndjson', path: 'in.ndjson' },
      routes: {
        orders: { sink: SQLITE, when: { path: 'payload.kind', equals: 'order' } },
        archive: { sink: { type: 'ndjson', path: 'archive.ndjson' } },
      },
      defaultRoute: 'archive',
      deadLetter: { type: 'ndjson', path: 'dead.ndjson' },
      workers: { max: 2 },
    });
    const run = await sluice('run', '--config', config);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^sluice run: 200 written \(orders 50, archive 150\), 0 dead-lettered, /);
    expect(rows(join(dir, 'out.db'))).toEqual({ n: 50, uniq: 50 });
    const archived = readFileSync(join(dir, 'archive.ndjson'), 'utf8').trim().split('\n');
    expect(archived.length).toBe(150);
  });

  it('a synthetic source of 5000 events writes 5000 distinct rows and exits 0', async () => {
    const config = writeConfig({
      source: { type: 'synthetic', events: 5000 },
      sink: SQLITE,
      workers: { max: 2 },
    });
    const run = await sluice('run', '--config', config);
    expect(run.code, run.stderr).toBe(0);
    expect(summary(run.stdout)).toEqual({ written: 5000, deadLettered: 0 });
    expect(rows(join(dir, 'out.db'))).toEqual({ n: 5000, uniq: 5000 });
  });

  it('SIGTERM during an endless run drains and exits 0, and every event the summary counts is in the sink', async () => {
    const config = writeConfig({ source: { type: 'synthetic' }, sink: SQLITE, workers: { max: 2 } });
    const run = start('run', '--config', config);
    // Logged once the source has made its first push, so the run has accepted events to drain.
    await run.logged(/source started/);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    const { written } = summary(result.stdout);
    expect(written).toBeGreaterThan(0);
    expect(rows(join(dir, 'out.db'))).toEqual({ n: written, uniq: written });
  });

  it.skipIf(process.platform === 'win32')(
    'SIGTERM while the command is still loading is a clean stop: exit 0, not the end of the process',
    async () => {
      // The config is a FIFO: the command waits there, loaded only in part, until it is written.
      const config = join(dir, 'config.fifo');
      execFileSync('mkfifo', [config]);
      const run = start('run', '--config', config);
      // Opening the writing end returns once the command opened the reading end.
      const writer = await open(config, 'w');
      run.child.kill('SIGTERM');
      await writer.write(
        JSON.stringify({ source: { type: 'synthetic' }, sink: SQLITE, workers: { max: 1 } }),
      );
      await writer.close();
      const result = await run.done;
      expect(result.code, result.stderr).toBe(0);
      const { written } = summary(result.stdout);
      expect(rows(join(dir, 'out.db'))).toEqual({ n: written, uniq: written });
    },
  );

  it.each<[string, boolean | undefined, boolean]>([
    ['by default', undefined, true],
    ['unless metrics.defaultMetrics is false', false, false],
  ])(
    'the metrics server serves the process metrics beside the pipeline metrics %s',
    async (_case, defaultMetrics, served) => {
      const config = writeConfig({
        source: { type: 'synthetic' },
        sink: SQLITE,
        workers: { max: 1 },
        metrics: defaultMetrics === undefined ? { port: 0 } : { port: 0, defaultMetrics },
      });
      const run = start('run', '--config', config);
      await run.logged(/metrics server listening/);
      const url = /"url":"(http:[^"]+)"/.exec(run.stderr())?.[1];
      if (url === undefined) throw new Error(`no metrics server URL in ${run.stderr()}`);
      const text = await (await fetch(`${url}/metrics`)).text();
      run.child.kill('SIGTERM');
      const result = await run.done;
      expect(result.code, result.stderr).toBe(0);
      expect(text).toMatch(/^sluice_events_pushed_total /m);
      expect(/^process_cpu_user_seconds_total /m.test(text)).toBe(served);
      expect(/^nodejs_heap_size_used_bytes /m.test(text)).toBe(served);
    },
  );

  it('serves the live dashboard and its modules from the built command', async () => {
    // The command is a bundle in dist/src/cli/ (src/cli/bundle-cli.ts); the dashboard's files are
    // in dist/src/metrics/dashboard/, found from either place.
    const config = writeConfig({
      source: { type: 'synthetic' },
      sink: SQLITE,
      workers: { max: 1 },
      metrics: { port: 0 },
    });
    const run = start('run', '--config', config);
    await run.logged(/metrics server listening/);
    const url = /"url":"(http:[^"]+)"/.exec(run.stderr())?.[1];
    if (url === undefined) throw new Error(`no metrics server URL in ${run.stderr()}`);
    const page = await fetch(`${url}/`);
    const html = await page.text();
    const script = await fetch(`${url}/dashboard.js`);
    const js = await script.text();
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(page.status).toBe(200);
    expect(html).toContain('<script type="module"');
    expect(script.status).toBe(200);
    expect(js).toMatch(/^import /m);
  });

  it('a second signal while draining exits at once with code 130', async () => {
    const config = writeConfig({
      source: { type: 'synthetic', events: 10 },
      sink: { module: STUCK_SINK },
      workers: { max: 1 },
    });
    const run = start('run', '--config', config);
    await run.logged(/pipeline started/);
    run.child.kill('SIGINT');
    await run.logged(/shutting down/);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code).toBe(130);
    expect(result.stdout).not.toContain('written');
  });
});

/** The URL a JSON log line with message `msg` carries in its `url` field. */
function loggedUrl(stderr: string, msg: string): string {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === msg && entry.url) return entry.url;
  }
  throw new Error(`no "${msg}" line with a url in ${stderr}`);
}

interface LiveStats {
  pushed: number;
  written: number;
  backpressureEvents: number;
}

/** Polls the run's /api/stats until `until` holds; returns that snapshot. */
async function statsWhen(url: string, until: (stats: LiveStats) => boolean): Promise<LiveStats> {
  for (;;) {
    const stats = (await (await fetch(`${url}/api/stats`)).json()) as LiveStats;
    if (until(stats)) return stats;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The lines of stderr that are not JSON log lines. */
function messages(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
}

const EXIT_SHUTDOWN_DEADLINE = 75;
const EXIT_UNAVAILABLE = 69;
const EXIT_NO_INPUT = 66;
const EXIT_USAGE = 64;

describe('sluice run shutdown deadline', () => {
  /** A run into a sink that never acknowledges, so no drain can finish. */
  const stuck = (source: unknown) => ({
    source,
    sink: { module: STUCK_SINK },
    workers: { max: 1 },
    queue: { capacityBytes: 64 * 1024 },
    metrics: { port: 0 },
    shutdownTimeoutMs: 1000,
  });

  /**
   * SIGTERM once the source is blocked on the full ring; the run must end by the deadline on its
   * own (the test's timeout is what fails it otherwise). Returns how many events the ring took:
   * all of them are what the deadline leaves unwritten, since the sink writes none.
   */

  async function blockedThenTerminated(config: unknown): Promise<{ result: Run; pushed: number }> {
    const run = start('run', '--config', writeConfig(config));
    let stderr = '';
    run.child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    await run.logged(/metrics server listening/);
    const url = loggedUrl(stderr, 'metrics server listening');
    // A producer waited for room: with a sink that never acknowledges, nothing is pushed after that.
    const { pushed } = await statsWhen(url, (stats) => stats.backpressureEvents > 0);
    run.child.kill('SIGTERM');
    return { result: await run.done, pushed };
  }

  it.each([
    ['synthetic', { type: 'synthetic' }],
    ['ndjson', { type: 'ndjson', path: 'in.ndjson' }],
  ])(
    'a %s source blocked on a full ring behind a stalled sink: SIGTERM ends the run by shutdownTimeoutMs, exit 75, counting the events not written',
    async (_type, source) => {
      const lines = Array.from({ length: 20_000 }, (_, i) =>
        JSON.stringify({ id: `line-${i}`, payload: { i } }),
      );
      writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
      const { result, pushed } = await blockedThenTerminated(stuck(source));
      expect(pushed).toBeGreaterThan(0);
      expect(pushed).toBeLessThan(20_000);
      expect(result.code, result.stderr).toBe(EXIT_SHUTDOWN_DEADLINE);
      expect(messages(result.stderr)).toEqual([
        `sluice: shutdown deadline passed (shutdownTimeoutMs 1000): ${pushed} accepted events were not written or dead-lettered; this source keeps no copy of them`,
      ]);
      expect(result.stdout).not.toContain('written');
    },
    30_000,
  );

  it('an http source with a request waiting for ?ack=sink: SIGTERM ends the run by shutdownTimeoutMs, exit 75, counting the events not written', async () => {
    const run = start('run', '--config', writeConfig(stuck({ type: 'http', port: 0 })));
    let stderr = '';
    run.child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    await run.logged(/http source listening/);
    await run.logged(/metrics server listening/);
    const ingest = `${loggedUrl(stderr, 'http source listening')}/ingest`;
    const metrics = loggedUrl(stderr, 'metrics server listening');
    const body = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => JSON.stringify({ id: `http-${from + i}`, payload: {} })).join('\n');
    const post = (path: string, text: string) =>
      fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: text });
    let accepted = 0;
    for (let r = 0; r < 3; r++) {
      const response = await post(ingest, body(r * 50, 50));
      expect(response.status).toBe(200);
      accepted += ((await response.json()) as { accepted: number }).accepted;
    }
    // Answered only once written: never, so the source's stop waits for it.
    const waiting = post(`${ingest}?ack=sink`, body(150, 20)).catch(() => undefined);
    await statsWhen(metrics, (stats) => stats.pushed === accepted + 20);
    run.child.kill('SIGTERM');
    const result = await run.done;
    await waiting;
    expect(result.code, result.stderr).toBe(EXIT_SHUTDOWN_DEADLINE);
    expect(messages(result.stderr)).toEqual([
      `sluice: shutdown deadline passed (shutdownTimeoutMs 1000): ${accepted + 20} accepted events were not written or dead-lettered; this source keeps no copy of them`,
    ]);
  }, 30_000);
  it('SIGTERM while the sink is still opening against a server that never answers: the run ends by shutdownTimeoutMs, exit 75, counting the events not written', async () => {
    // A server that accepts connections and never answers: the sink's open waits out its timeout.
    const hung = createServer((socket) => socket.on('error', () => {}).resume());
    const connected = new Promise<void>((resolve) => hung.once('connection', () => resolve()));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const port = (hung.address() as AddressInfo).port;
    try {
      const lines = Array.from({ length: 100 }, (_, i) =>
        JSON.stringify({ id: `line-${i}`, payload: { i } }),
      );
      writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
      const run = start(
        'run',
        '--config',
        writeConfig({
          source: { type: 'ndjson', path: 'in.ndjson' },
          // Far past the test's timeout: only the shutdown deadline can end the run in time.
          sink: {
            type: 'redis-streams',
            url: `redis://127.0.0.1:${port}`,
            stream: 'never',
            timeoutMs: 120_000,
          },
          workers: { max: 1, startupTimeoutMs: 120_000 },
          shutdownTimeoutMs: 1000,
        }),
      );
      await connected;
      run.child.kill('SIGTERM');
      const result = await run.done;
      expect(result.code, result.stderr).toBe(EXIT_SHUTDOWN_DEADLINE);
      const [line, ...rest] = messages(result.stderr);
      expect(rest).toEqual([]);
      const pending = Number(
        /^sluice: shutdown deadline passed \(shutdownTimeoutMs 1000\): (\d+) accepted events were not written or dead-lettered; this source keeps no copy of them$/.exec(
          line ?? '',
        )?.[1],
      );
      expect(pending, result.stderr).toBeGreaterThan(0);
      expect(pending).toBeLessThanOrEqual(100);
    } finally {
      hung.close();
    }
  }, 30_000);
});

describe.skipIf(redis.skip)('sluice run shutdown deadline with a broker source', () => {
  let client: Redis;
  const streams: string[] = [];
  beforeAll(async () => {
    redis.require();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    if (streams.length > 0) await client.del(...streams);
    client.disconnect();
  });

  it('a redis-streams source behind a stalled sink: exit 75, and the events not written stay unacknowledged in the group', async () => {
    const stream = uniqueName('deadline');
    streams.push(stream);
    const N = 300;
    const entries = client.pipeline();
    for (let i = 0; i < N; i++) entries.xadd(stream, '*', 'data', JSON.stringify({ id: `entry-${i}`, i }));
    await entries.exec();
    const run = start(
      'run',
      '--config',
      writeConfig({
        source: { type: 'redis-streams', url: redis.url, stream, group: 'sluice', batch: 100, blockMs: 200 },
        sink: { module: STUCK_SINK },
        workers: { max: 1 },
        metrics: { port: 0 },
        shutdownTimeoutMs: 1000,
      }),
    );
    let stderr = '';
    run.child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    await run.logged(/metrics server listening/);
    await statsWhen(loggedUrl(stderr, 'metrics server listening'), (stats) => stats.pushed === N);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(EXIT_SHUTDOWN_DEADLINE);
    expect(messages(result.stderr)).toEqual([
      `sluice: shutdown deadline passed (shutdownTimeoutMs 1000): ${N} accepted events were not written or dead-lettered; they stay unacknowledged with the broker, which will deliver them again`,
    ]);
    expect((await client.xpending(stream, 'sluice'))[0]).toBe(N);
  }, 30_000);
});

describe('sluice run start-up failures', () => {
  /** One `sluice:` line and no stack trace: nothing on stderr but log lines and that line. */
  function oneLine(run: Run): string {
    const lines = messages(run.stderr);
    expect(lines, run.stderr).toHaveLength(1);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    return lines[0]!;
  }

  it('a sqlite sink whose path is a directory: one line naming the sink, exit 69', async () => {
    const run = await sluice(
      'run',
      '--config',
      writeConfig({ source: { type: 'synthetic', events: 10 }, sink: { type: 'sqlite', path: dir } }),
    );
    expect(run.code, run.stderr).toBe(EXIT_UNAVAILABLE);
    expect(oneLine(run)).toMatch(/^sluice: .*sqlite/);
  });

  it('a sink that cannot open while an ndjson file has filled the ring: one line naming the sink, exit 69', async () => {
    const input = join(dir, 'many.ndjson');
    writeFileSync(
      input,
      Array.from({ length: 5000 }, (_, i) => `{"id":"e${i}","pad":"${'x'.repeat(60)}"}\n`).join(''),
    );
    const run = await sluice(
      'run',
      '--config',
      writeConfig({
        source: { type: 'ndjson', path: input },
        // Filled by the file long before a worker has started and tried the sink.
        queue: { capacityBytes: 4096 },
        sink: { type: 'sqlite', path: dir },
      }),
    );
    expect(run.code, run.stderr).toBe(EXIT_UNAVAILABLE);
    expect(oneLine(run)).toMatch(/^sluice: .*sqlite/);
  });

  it('a postgres sink that is unreachable: one line naming it, exit 69', async () => {
    const config = writeConfig({
      source: { type: 'synthetic', events: 10 },
      sink: {
        type: 'postgres',
        connectionString: 'postgres://sluice@127.0.0.1:1/none',
        connectTimeoutMs: 500,
      },
    });
    const run = await sluice('run', '--config', config);
    expect(run.code, run.stderr).toBe(EXIT_UNAVAILABLE);
    expect(oneLine(run)).toMatch(/^sluice: postgres: .*127\.0\.0\.1:1/);
  });

  it('a transform module that does not exist: one line naming the module, exit 69', async () => {
    const config = writeConfig({
      source: { type: 'synthetic', events: 10 },
      transform: './missing.js',
      sink: SQLITE,
    });
    const run = await sluice('run', '--config', config);
    expect(run.code, run.stderr).toBe(EXIT_UNAVAILABLE);
    expect(oneLine(run)).toMatch(/^sluice: transform .*missing\.js/);
  });

  it('an ndjson file that does not exist: one line naming it, exit 69', async () => {
    const missing = join(dir, 'no-such.ndjson');
    const run = await sluice(
      'run',
      '--config',
      writeConfig({ source: { type: 'ndjson', path: missing }, sink: SQLITE }),
    );
    expect(run.code, run.stderr).toBe(EXIT_UNAVAILABLE);
    expect(oneLine(run)).toBe(
      `sluice: source failed: ndjson source: cannot open source.path "${missing}": ENOENT: no such file or directory, stat '${missing}'`,
    );
  });

  it('an http source port already in use: one line naming the address, exit 69', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const config = writeConfig({ source: { type: 'http', port }, sink: SQLITE });
      const run = await sluice('run', '--config', config);
      expect(run.code, run.stderr).toBe(EXIT_UNAVAILABLE);
      expect(oneLine(run)).toMatch(
        new RegExp(
          `^sluice: source failed: http source: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`,
        ),
      );
    } finally {
      taken.close();
    }
  });

  it('a metrics port already in use: one line naming the address, exit 64', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const config = writeConfig({
        source: { type: 'synthetic', events: 10 },
        sink: SQLITE,
        metrics: { port },
      });
      const run = await sluice('run', '--config', config);
      expect(run.code, run.stderr).toBe(EXIT_USAGE);
      expect(oneLine(run)).toMatch(
        new RegExp(`^sluice: metrics must be .*127\\.0\\.0\\.1:${port}.*EADDRINUSE`),
      );
    } finally {
      taken.close();
    }
  });

  it('a config file that does not exist: "cannot read" it, one line, exit 66', async () => {
    const path = join(dir, 'absent.json');
    for (const command of ['run', 'validate']) {
      const run = await sluice(command, '--config', path);
      expect(run.code, run.stderr).toBe(EXIT_NO_INPUT);
      expect(oneLine(run)).toBe(`sluice: cannot read ${path}: no such file or directory`);
    }
  });
});
