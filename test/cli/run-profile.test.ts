/**
 * `sluice run --profile DIR`: the built CLI (`npm run build` first) run again under V8's profiler;
 * one profile per thread, named by its role, written as the run ends — by itself, or after
 * `--profile-seconds`, as SIGTERM would end it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import { runCli } from '../helpers/cli.js';

const sluice = (...args: string[]) => runCli(args, { timeoutMs: 60_000 });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-run-profile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(source: object): string {
  const file = join(dir, 'run.json');
  writeFileSync(
    file,
    JSON.stringify({
      source,
      sink: { type: 'ndjson', path: 'out.ndjson' },
      deadLetter: { type: 'null' },
      workers: { min: 2, max: 2 },
      log: { level: 'warn' },
    }),
  );
  return file;
}

/** A .cpuprofile as V8 writes it: a tree of nodes and the samples taken in them. */
function readProfile(file: string): { nodes: unknown[]; samples: number[] } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

describe('sluice run --profile', () => {
  it('profiles a run that ends by itself: main and each worker thread, every event written', async () => {
    const out = join(dir, 'profiles');
    const run = await sluice(
      'run',
      '--config',
      config({ type: 'synthetic', events: 20_000 }),
      '--profile',
      out,
    );
    expect(run.code, run.stderr).toBe(EXIT_OK);
    expect(run.stdout).toMatch(/^sluice run: 20000 written, 0 dead-lettered/);
    const all = readdirSync(out).sort();
    const files = all.filter((f) => f.endsWith('.cpuprofile'));
    expect(files).toContain('main.cpuprofile');
    const workers = files.filter((f) => /^worker-\d+\.cpuprofile$/.test(f));
    expect(workers.length).toBeGreaterThanOrEqual(1);
    expect(workers.length).toBeLessThanOrEqual(2);
    // Each profile has its flame graph beside it, and a summary names each thread.
    expect(all.filter((f) => f.endsWith('.flame.svg'))).toEqual(
      files.map((f) => f.replace('.cpuprofile', '.flame.svg')),
    );
    expect(readFileSync(join(out, 'main.flame.svg'), 'utf8')).toMatch(
      /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
    expect(run.stderr).toMatch(/^main — \d+ ms sampled: /m);
    expect(run.stderr).toMatch(/^worker-\d+ — \d+ ms sampled: /m);
    for (const file of files) {
      const profile = readProfile(join(out, file));
      expect(profile.nodes.length).toBeGreaterThan(0);
      expect(profile.samples.length).toBeGreaterThan(0);
    }
    expect(run.stderr).toContain(`CPU profiles of main, worker-`);
    const written = readFileSync(join(dir, 'out.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(written.length).toBe(20_000);
  });

  it('stops an endless run after --profile-seconds, draining as SIGTERM does (exit 0)', async () => {
    const out = join(dir, 'p');
    const run = await sluice(
      'run',
      '--config',
      config({ type: 'synthetic', rate: 2000 }),
      '--profile',
      out,
      '--profile-seconds',
      '1',
    );
    expect(run.code, run.stderr).toBe(EXIT_OK);
    const [, written] = /^sluice run: (\d+) written/.exec(run.stdout) ?? [];
    expect(Number(written)).toBeGreaterThan(0);
    const lines = readFileSync(join(dir, 'out.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines.length).toBe(Number(written));
    expect(readdirSync(out)).toContain('main.cpuprofile');
  });

  it('refuses --profile-seconds without --profile, and a bad number, naming the flag (exit 64)', async () => {
    const file = config({ type: 'synthetic', events: 1 });
    const alone = await sluice('run', '--config', file, '--profile-seconds', '3');
    expect(alone.code).toBe(EXIT_USAGE);
    expect(alone.stderr).toMatch(/--profile-seconds must be used with --profile DIR, got "3"/);
    const bad = await sluice(
      'run',
      '--config',
      file,
      '--profile',
      join(dir, 'x'),
      '--profile-seconds',
      'soon',
    );
    expect(bad.code).toBe(EXIT_USAGE);
    expect(bad.stderr).toMatch(/--profile-seconds must be a positive number of seconds, got "soon"/);
  });
});
