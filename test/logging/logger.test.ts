import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { fixtureUrl } from '../helpers/engine.js';

let pipeline: Pipeline | undefined;
let dir: string | undefined;
afterEach(async () => {
  await pipeline?.close().catch(() => undefined);
  pipeline = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Line {
  level: number;
  msg: string;
  thread: string;
  [field: string]: unknown;
}

describe('structured logs', () => {
  it('main thread and workers write JSON lines with stable messages and event ids into one file, per batch, never per event', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-logs-'));
    const logFile = join(dir, 'sluice.log');
    pipeline = await createPipeline({
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 100 },
      retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 50 },
      transform: fixtureUrl('behaviour-transform'),
      sink: {
        module: fixtureUrl('test-sink'),
        options: { path: join(dir, 's.db'), table: 't', failRate: 0.3, seed: 3 },
      },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      log: { level: 'info', destination: logFile },
    });
    const N = 2000;
    const events = Array.from({ length: N }, (_, i) => ({
      id: `log-${i}`,
      payload: i % 500 === 7 ? { output: 'throw' } : { i },
    }));
    await pipeline.pushMany(events);
    await pipeline.drained();
    await pipeline.close();
    pipeline = undefined;
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Line);
    const messages = new Set(lines.map((l) => l.msg));
    expect(messages).toContain('pipeline started');
    expect(messages).toContain('pipeline closed');
    expect(messages).toContain('sink write failed, retrying');
    expect(messages).toContain('events dead-lettered');
    const threads = new Set(lines.map((l) => l.thread));
    expect(threads).toEqual(new Set(['main', 'worker']));
    const retry = lines.find((l) => l.msg === 'sink write failed, retrying')!;
    expect((retry.ids as string[]).every((id) => id.startsWith('log-'))).toBe(true);
    const dead = lines.filter((l) => l.msg === 'events dead-lettered').flatMap((l) => l.ids as string[]);
    expect(dead.sort()).toEqual(
      events
        .filter((e) => 'output' in e.payload)
        .map((e) => e.id)
        .sort(),
    );
    // Per batch at most: far fewer lines than events.
    expect(lines.length).toBeLessThan(N / 10);
  });

  it('rejects an unknown log level, naming the field and value', async () => {
    await expect(createPipeline({ log: { level: 'loud' as 'info' } })).rejects.toMatchObject({
      code: 'SLUICE_INVALID_OPTION',
      message: expect.stringContaining('log.level'),
    });
  });

  // Linux lists a process's threads in /proc/self/task: a pool's worker threads are counted there.
  it.skipIf(!existsSync('/proc/self/task'))(
    'fails createPipeline for a log destination that cannot be opened, and leaves no thread running',
    () => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-logs-'));
      const blocker = join(dir, 'not-a-directory');
      writeFileSync(blocker, '');
      const entry = new URL('../../dist/src/index.js', import.meta.url).href;
      const attempt = (destination: string) =>
        `await createPipeline({ sink: { type: 'null' }, deadLetter: { type: 'null' }, workers: { min: 2, max: 2 }, log: { level: 'info', destination: ${JSON.stringify(destination)} } }).then(() => 'opened', (error) => error.code)`;
      const child = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { readdirSync } from 'node:fs';
           const { createPipeline } = await import(${JSON.stringify(entry)});
           const threads = () => readdirSync('/proc/self/task').length;
           // A first failure also starts the threads Node starts lazily.
           console.log(${attempt(join(blocker, 'a.log'))});
           const before = threads();
           console.log(${attempt(join(blocker, 'b.log'))});
           for (let i = 0; i < 100 && threads() > before; i++) await new Promise((r) => setTimeout(r, 10));
           console.log(threads() > before ? 'threads left: ' + (threads() - before) : 'no thread left');`,
        ],
        { encoding: 'utf8', timeout: 15_000 },
      );
      expect(child.error).toBeUndefined();
      expect(child.status, child.stderr).toBe(0);
      expect(child.stdout).toMatch(/^(ENOTDIR|EEXIST)\n(ENOTDIR|EEXIST)\nno thread left\n$/);
    },
  );
});
