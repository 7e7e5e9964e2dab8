import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';

const MODULE = new URL('../../dist/src/logging/worker-logger.js', import.meta.url).href;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/**
 * In a fresh thread (nothing has loaded pino there): a worker logger at `level` writing to `file`;
 * whether pino is loaded after building it, after a warn and after an error.
 */
function inFreshThread(level: string, file: string): Promise<boolean[]> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const pinoLoaded = () => Object.keys(require.cache).some((path) => /[\\\\/]node_modules[\\\\/]pino[\\\\/]/.test(path));
    (async () => {
      const { workerLogger } = await import(${JSON.stringify(MODULE)});
      const log = workerLogger({ level: ${JSON.stringify(level)}, destination: ${JSON.stringify(file)}, pretty: false }, { thread: 'worker', threadId: 7 });
      const seen = [pinoLoaded()];
      log.warn({ attempt: 2, ids: ['a', 'b'] }, 'sink write failed, retrying');
      seen.push(pinoLoaded());
      log.error({ events: 3 }, 'dead-letter sink failed');
      seen.push(pinoLoaded());
      parentPort.postMessage(seen);
    })().catch((error) => parentPort.postMessage(String(error)));
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true });
    worker.once('message', (message: boolean[] | string) => {
      void worker.terminate();
      if (typeof message === 'string') reject(new Error(message));
      else resolve(message);
    });
    worker.once('error', reject);
  });
}

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('workerLogger', () => {
  it('loads pino at the first line due, and writes it with the thread bindings', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-worker-log-'));
    const file = join(dir, 'logs', 'sluice.log');
    expect(await inFreshThread('warn', file)).toEqual([false, true, true]);
    const written = lines(file);
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({
      level: 40,
      msg: 'sink write failed, retrying',
      attempt: 2,
      ids: ['a', 'b'],
      thread: 'worker',
      threadId: 7,
      pid: expect.any(Number),
    });
    expect(written[1]).toMatchObject({
      level: 50,
      msg: 'dead-letter sink failed',
      events: 3,
      thread: 'worker',
    });
  });

  it('loads nothing for a line below its level', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-worker-log-'));
    const file = join(dir, 'sluice.log');
    expect(await inFreshThread('error', file)).toEqual([false, false, true]);
    expect(lines(file).map((l) => l.msg)).toEqual(['dead-letter sink failed']);
  });

  it('writes nothing, and loads nothing, when silent', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-worker-log-'));
    const file = join(dir, 'sluice.log');
    expect(await inFreshThread('silent', file)).toEqual([false, false, false]);
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
  });

  it('writes to stderr, saying why, when its destination cannot be opened any more', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-worker-log-'));
    const blocker = join(dir, 'not-a-directory');
    writeFileSync(blocker, '');
    // In a process of its own: the fallback writes to file descriptor 2 itself, as pino does.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { workerLogger } = await import(${JSON.stringify(MODULE)});
         const log = workerLogger({ level: 'warn', destination: ${JSON.stringify(join(blocker, 'sluice.log'))}, pretty: false }, { thread: 'worker' });
         log.warn({ attempt: 1 }, 'sink write failed, retrying');`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.status, child.stderr).toBe(0);
    const stderr = child.stderr;
    const written = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(written).toMatchObject([
      {
        level: 50,
        msg: 'log destination cannot be opened: logging to stderr',
        error: expect.stringMatching(/EEXIST|ENOTDIR/),
      },
      { level: 40, msg: 'sink write failed, retrying', attempt: 1, thread: 'worker' },
    ]);
  });
});
