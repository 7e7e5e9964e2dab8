/**
 * Start-up: createPipeline() loads the transform and opens the sinks in a worker before it resolves,
 * and a failure there reaches the caller as a typed error with its stable code — across the thread
 * boundary — within workers.startupTimeoutMs, leaving no thread or timer behind.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { SinkError, StartupTimeoutError, TransformError } from '../../src/errors.js';
import { runNode } from '../helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-startup-'));
  dirs.push(dir);
  return dir;
}

/** Writes a transform module into `dir` and returns its path. */
function transformModule(dir: string, name: string, source: string): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('start-up', () => {
  it('createPipeline rejects with a SinkError (SLUICE_SINK_ERROR) when the sqlite sink path is a directory', async () => {
    const dir = tempDir();
    const error = await failureOf(
      createPipeline({
        workers: { min: 1, max: 1 },
        // A directory cannot be opened as a database file.
        sink: { type: 'sqlite', path: dir },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      }),
    );
    expect(error).toBeInstanceOf(SinkError);
    expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', name: 'SinkError' });
    expect((error as Error).message).toContain('sqlite');
  });

  it('createPipeline rejects with a SinkError (SLUICE_SINK_ERROR) when PostgreSQL is unreachable, within its connectTimeoutMs', async () => {
    const dir = tempDir();
    const error = await failureOf(
      createPipeline({
        workers: { min: 1, max: 1, startupTimeoutMs: 60_000 },
        sink: {
          type: 'postgres',
          connectionString: 'postgres://sluice@127.0.0.1:1/none',
          connectTimeoutMs: 500,
        },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      }),
    );
    expect(error).toBeInstanceOf(SinkError);
    expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
    expect((error as Error).message).toContain('postgres');
  });

  it('createPipeline rejects with a TransformError (SLUICE_TRANSFORM_ERROR) naming a transform module that does not exist', async () => {
    const dir = tempDir();
    const error = await failureOf(
      createPipeline({
        workers: { min: 1, max: 1 },
        transform: new URL('file:///nonexistent/sluice-transform.js'),
        sink: { type: 'null' },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      }),
    );
    expect(error).toBeInstanceOf(TransformError);
    expect(error).toMatchObject({ code: 'SLUICE_TRANSFORM_ERROR', name: 'TransformError' });
    expect((error as Error).message).toContain('file:///nonexistent/sluice-transform.js');
  });

  it.each([
    ['whose default export is not a function', 'export default 42;\n', 'default export'],
    [
      'whose lazyPayload export is not a boolean',
      'export const lazyPayload = "yes";\nexport default (e) => e;\n',
      'the lazyPayload export must be a boolean, got string yes',
    ],
    [
      'whose setup() throws',
      'export function setup() { throw new Error("no licence key"); }\n',
      'no licence key',
    ],
    [
      'whose setup() rejects',
      'export async function setup() { throw new Error("warehouse closed"); }\n',
      'warehouse closed',
    ],
  ])(
    'createPipeline rejects with a TransformError naming a transform module %s',
    async (_what, source, says) => {
      const dir = tempDir();
      const module = transformModule(dir, 'broken-transform.mjs', source);
      const error = await failureOf(
        createPipeline({
          workers: { min: 1, max: 1 },
          transform: module,
          sink: { type: 'null' },
          deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
        }),
      );
      expect(error).toBeInstanceOf(TransformError);
      expect(error).toMatchObject({ code: 'SLUICE_TRANSFORM_ERROR' });
      expect((error as Error).message).toContain(module);
      expect((error as Error).message).toContain(says);
    },
  );

  it('createPipeline rejects with a StartupTimeoutError naming the transform and the sink when setup() never resolves', async () => {
    const dir = tempDir();
    const module = transformModule(
      dir,
      'hanging-transform.mjs',
      'export function setup() { return new Promise(() => {}); }\n',
    );
    const error = await failureOf(
      createPipeline({
        workers: { min: 1, max: 1, startupTimeoutMs: 300 },
        transform: module,
        sink: { type: 'null' },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      }),
    );
    expect(error).toBeInstanceOf(StartupTimeoutError);
    expect(error).toMatchObject({ code: 'SLUICE_STARTUP_TIMEOUT', timeoutMs: 300 });
    expect((error as Error).message).toContain('workers.startupTimeoutMs');
    expect((error as Error).message).toContain(module);
    expect((error as Error).message).toContain('null');
  }, 20_000);

  // Linux lists a process's threads in /proc/self/task: the pool's worker threads are counted there.
  it.skipIf(!existsSync('/proc/self/task'))(
    'a createPipeline that timed out at start-up leaves no worker thread or timer behind: the process exits on its own',
    async () => {
      const dir = tempDir();
      const module = transformModule(
        dir,
        'hanging-transform.mjs',
        'export function setup() { return new Promise(() => {}); }\n',
      );
      const pipelineUrl = new URL('../../dist/src/engine/pipeline.js', import.meta.url).href;
      const script = `
        import { readdirSync } from 'node:fs';
        import { createPipeline } from ${JSON.stringify(pipelineUrl)};
        const threads = () => readdirSync('/proc/self/task').length;
        const attempt = () =>
          createPipeline({
            workers: { min: 2, max: 2, startupTimeoutMs: 300 },
            transform: ${JSON.stringify(pathToFileURL(module).href)},
            sink: { type: 'null' },
            deadLetter: { type: 'null' },
            log: { level: 'silent' },
          }).then(() => 'started', (error) => error.code);
        // The first attempt also starts the threads Node starts lazily (libuv's pool…).
        console.log(await attempt());
        const before = threads();
        console.log(await attempt());
        // A destroyed pool's threads are joined; one may still be on its way out for a moment —
        // over a second when the machine is busy (the whole suite at once): up to 5 s.
        for (let i = 0; i < 500 && threads() > before; i++) await new Promise((r) => setTimeout(r, 10));
        console.log(threads() > before ? 'threads left: ' + (threads() - before) : 'no thread left');
      `;
      // Something left running would keep the child alive: killed after 15 s, it fails the test.
      const { code, stdout, stderr } = await runNode(['--input-type=module', '-e', script], {
        timeoutMs: 15_000,
      });
      expect({ code, stdout, stderr }).toEqual({
        code: 0,
        stdout: 'SLUICE_STARTUP_TIMEOUT\nSLUICE_STARTUP_TIMEOUT\nno thread left\n',
        stderr: '',
      });
    },
    20_000,
  );
});
