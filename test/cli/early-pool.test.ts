/**
 * `sluice run` starts its worker pool before it loads the command's modules (src/cli/early-pool.ts)
 * when the run will take it: the pipeline says so in 'pipeline started' (`poolStartedEarly`), and
 * every line is stored once either way; a config that mentions `workers`, help, --profile or a
 * config that cannot be read start none; a run whose config is refused still exits with the
 * config's code.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEarlyPool } from '../../src/cli/early-pool.js';
import { CLI } from '../harness/built.js';
import { runCli, runNode } from '../helpers/cli.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-early-pool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, content: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

/** 3 000 lines, every 100th a 20 000-deep array (dead-lettered `too-deep`). */
function lines(): { file: string; stored: string[]; deep: string[] } {
  const stored: string[] = [];
  const deep: string[] = [];
  const text: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const id = `line-${i}`;
    if (i % 100 === 7) {
      deep.push(id);
      text.push(`{"id":"${id}","v":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);
    } else {
      stored.push(id);
      text.push(JSON.stringify({ id, i, s: 'é\u0000😀' }));
    }
  }
  const file = join(dir, 'in.ndjson');
  writeFileSync(file, `${text.join('\n')}\n`);
  return { file, stored, deep };
}

function startedLine(stderr: string): Record<string, unknown> | undefined {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.msg === 'pipeline started');
}

/** The ids the SQLite sink stored at `path`, sorted. */
function storedIds(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id FROM events ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

/** The dead letters at `path`: each deep line once, by the id in its text, as `too-deep`. */
function expectDeepLettered(path: string, deep: readonly string[]): void {
  const letters = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { payload: { reason: string; event: { raw: string } } }).payload);
  expect(letters.map((l) => l.reason)).toEqual(deep.map(() => 'too-deep'));
  expect(letters.map((l) => /^\{"id":"(line-\d+)"/.exec(l.event.raw)?.[1]).sort()).toEqual([...deep].sort());
}

describe('sluice run’s early worker pool', () => {
  it.each([
    ['the default workers: started early and taken', undefined, true],
    ['workers.max 1: none started early, the pipeline starts its own', { max: 1 }, false],
  ])(
    '%s — every line stored once, every deep one dead-lettered',
    async (_, workers, early) => {
      const { file, stored, deep } = lines();
      const out = join(dir, 'out.db');
      const path = config('run.json', {
        source: { type: 'ndjson', path: file },
        sink: { type: 'sqlite', path: out },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
        ...(workers ? { workers } : {}),
      });
      const run = await runCli(['run', '--config', path]);
      expect(run.code, run.stderr).toBe(0);
      expect(startedLine(run.stderr)?.poolStartedEarly).toBe(early);
      expect(storedIds(out)).toEqual([...stored].sort());
      expect(run.stdout).toContain(`${stored.length} written, ${deep.length} dead-lettered`);
      expectDeepLettered(join(dir, 'dead.ndjson'), deep);
    },
    60_000,
  );

  it('reads a config from a pipe once: `--config /dev/stdin` runs, no pool started early', async () => {
    const { file, stored, deep } = lines();
    const out = join(dir, 'out.db');
    const path = config('piped.json', {
      source: { type: 'ndjson', path: file },
      sink: { type: 'sqlite', path: out },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
    });
    // Through a shell's pipe, as a user pipes a config in: Node's own stdio pipes are sockets,
    // which /dev/stdin cannot open.
    const child = spawn(
      'sh',
      ['-c', 'cat "$1" | "$2" "$3" run --config /dev/stdin', 'sh', path, process.execPath, CLI],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(startedLine(stderr)?.poolStartedEarly).toBe(false);
    expect(stdout).toContain(`${stored.length} written, ${deep.length} dead-lettered`);
    expectDeepLettered(join(dir, 'dead.ndjson'), deep);
    expect(storedIds(out)).toEqual([...stored].sort());
  }, 60_000);

  it('exits with the config’s code when the config is refused after its pool started early', async () => {
    const path = config('bad.json', { source: { type: 'ndjson', path: 'x' }, sink: { type: 'nowhere' } });
    const run = await runCli(['run', '--config', path], { timeoutMs: 20_000 });
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('sink');
  });
});

describe('startEarlyPool', () => {
  it('starts a pool for a run whose config does not mention workers', async () => {
    const path = config('plain.json', { source: { type: 'synthetic' }, sink: { type: 'null' } });
    for (const argv of [['--config', path], [`--config=${path}`]]) {
      const pool = await startEarlyPool(argv);
      expect(pool).toBeDefined();
      await pool!.release();
    }
  });

  it('asks its workers to load the PostgreSQL client while they wait when the config mentions postgres', async () => {
    const postgres = config('pg.json', {
      source: { type: 'synthetic' },
      sink: { type: 'postgres', connectionString: 'postgres://127.0.0.1:1/none', table: 't' },
    });
    const plain = config('plain.json', { source: { type: 'synthetic' }, sink: { type: 'null' } });
    for (const [path, preload] of [
      [postgres, ['postgres']],
      [plain, []],
    ] as const) {
      const pool = await startEarlyPool(['--config', path]);
      expect(pool?.preload).toEqual(preload);
      await pool!.release();
    }
  });

  // A FIFO with no writer: reading it would block the reading thread for ever (and, written to,
  // consume the config) — so in a child, killed after 10 s.
  it.skipIf(process.platform === 'win32')('leaves a config that is not a regular file unread', async () => {
    const fifo = join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const module = new URL('../../dist/src/cli/early-pool.js', import.meta.url).href;
    const script = `
      import { startEarlyPool } from ${JSON.stringify(module)};
      console.log(await startEarlyPool(['--config', ${JSON.stringify(fifo)}]));
    `;
    const run = await runNode(['--input-type=module', '-e', script], { timeoutMs: 10_000 });
    expect(run).toEqual({ code: 0, stdout: 'undefined\n', stderr: '' });
  });

  it('starts none for help, --profile, a config it cannot read or one that mentions workers', async () => {
    const plain = config('plain.json', { source: { type: 'synthetic' }, sink: { type: 'null' } });
    const named = config('named.json', {
      source: { type: 'ndjson', path: '/data/workers.ndjson' },
      sink: { type: 'null' },
    });
    for (const argv of [
      ['--config', plain, '--help'],
      ['-h'],
      ['--config', plain, '--profile', dir],
      ['--config', join(dir, 'missing.json')],
      ['--config'],
      [],
      ['--config', named],
      ['--config', plain, '--bogus'],
    ])
      expect(await startEarlyPool(argv), argv.join(' ')).toBeUndefined();
  });
});
