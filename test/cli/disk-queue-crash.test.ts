/**
 * `sluice run` with an http source and `queue.durability: 'disk'`, killed in the middle of a load of
 * POSTs: started again on the same config, every event whose POST was answered 200 is in the SQLite
 * sink exactly once (by id). Runs the built CLI (`npm run build` first); no server needed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../harness/built.js';
import { pollUntil } from '../helpers/engine.js';

const TRANSFORM = fileURLToPath(new URL('../fixtures/run/pid-transform.mjs', import.meta.url));
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts `sluice run`; resolves the http source's URL once it listens. */
function run(config: string): {
  child: ChildProcess;
  url: Promise<string>;
  exited: Promise<number | null>;
  stderr: () => string;
} {
  // 300 µs of CPU per event: the sink falls behind the POSTs, so the ring holds accepted events.
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PID_TRANSFORM_US: '300' },
  });
  children.push(child);
  let stderr = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      for (const line of stderr.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'http source listening' && entry.url) resolve(entry.url);
      }
    });
    child.once('exit', () => reject(new Error(`sluice run exited: ${stderr}`)));
  });
  url.catch(() => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, url, exited, stderr: () => stderr };
}

function storedIds(db: string): string[] {
  try {
    const conn = new Database(db, { readonly: true });
    try {
      return (conn.prepare('SELECT id FROM events').all() as { id: string }[]).map((r) => r.id);
    } finally {
      conn.close();
    }
  } catch {
    return [];
  }
}

describe("sluice run, http source, queue.durability: 'disk'", () => {
  it('SIGKILL mid-load, run again: every event whose POST got 200 is in the sink exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-disk-http-'));
    dirs.push(dir);
    const config = join(dir, 'run.json');
    writeFileSync(
      config,
      JSON.stringify({
        source: { type: 'http', port: 0 },
        transform: TRANSFORM,
        queue: { durability: 'disk', path: 'queue', capacityBytes: 64 * 1024 },
        sink: { type: 'sqlite', path: 'out.db' },
        deadLetter: { type: 'ndjson', path: 'dead.ndjson' },
        workers: { min: 1, max: 1 },
        log: { level: 'info' },
      }),
    );
    const db = join(dir, 'out.db');
    const first = run(config);
    const ingest = `${await first.url}/ingest`;
    const accepted: string[] = [];
    // Bodies of 20 events, one after the other; each 200 is durable by then.
    for (let n = 0; accepted.length < 3000; n += 20) {
      const ids = Array.from({ length: 20 }, (_, i) => `h-${n + i}`);
      const response = await fetch(ingest, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: ids.map((id) => JSON.stringify({ id, n })).join('\n'),
      });
      if (response.status === 200) accepted.push(...ids);
      else await response.arrayBuffer();
    }
    first.child.kill('SIGKILL');
    await first.exited;
    const atKill = new Set(storedIds(db));
    expect(accepted.filter((id) => !atKill.has(id)).length).toBeGreaterThan(0);

    const second = run(config);
    await second.url;
    await pollUntil(
      () => {
        const stored = new Set(storedIds(db));
        return accepted.every((id) => stored.has(id));
      },
      'every accepted event in the sink',
      60_000,
      100,
    );
    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(/"replayed":[1-9]\d*.*"msg":"disk queue opened"/);
    const stored = storedIds(db);
    expect(new Set(stored).size).toBe(stored.length);
    const missing = accepted.filter((id) => !stored.includes(id));
    expect(missing).toEqual([]);
  }, 120_000);
});
