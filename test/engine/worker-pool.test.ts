/**
 * A worker pool started before its pipeline exists (`sluice run` starts one before it loads the
 * modules that read its config): a pipeline whose workers fit takes it and sends its workers
 * their setup — those already waiting, and those that start later (piscina's second thread, the
 * replacement of a worker that died) when they ask — and every event is stored once; a pipeline
 * whose workers differ leaves it, and it ends; a pool nobody takes ends on release() and leaves
 * nothing that keeps the process alive.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import type { WorkerSetup } from '../../src/engine/batch-task.js';
import { asWorkerMessage, receiveSetup, type WorkerMessage } from '../../src/engine/worker-messages.js';
import { PrestartedPool } from '../../src/engine/worker-pool.js';
import { runNode } from '../helpers/cli.js';
import { distinctSorted, fixtureUrl, ids, type Scene, useScenes } from '../helpers/engine.js';

const scene = useScenes();
const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 20, maxAttempts: 60 };

/** The scene's recording sink and its dead-letter file. */
function recorded(s: Scene): Pick<PipelineOptions, 'sink' | 'deadLetter'> {
  return {
    sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
  };
}

describe('a prestarted worker pool', () => {
  it('is taken by a pipeline with the default workers: every event stored once, by its threads', async () => {
    const s = scene();
    const prestarted = PrestartedPool.start();
    // Taken at once: the first worker is still booting, so it asks for its setup (SETUP_WANTED).
    const pipeline = await s.pipeline(
      {
        batch: { maxRecords: 50 },
        ...recorded(s),
      },
      prestarted,
    );
    expect(prestarted.taken).toBe(true);
    const all = ids('early', 4000);
    await pipeline.pushMany(all.map((id, i) => ({ id, key: `k${i % 7}`, payload: { i } })));
    await pipeline.drained();
    const rows = s.rows();
    expect(rows.length).toBe(all.length);
    expect(distinctSorted(rows.map((r) => r.id))).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    // Taken: releasing it is the pipeline's business, not the command's.
    await prestarted.release();
    const more = ids('after-release', 500);
    await pipeline.pushMany(more.map((id) => ({ id, payload: {} })));
    await pipeline.drained();
    expect(s.rows().length).toBe(all.length + more.length);
  });

  it('sends the setup to a worker already waiting for it when the pipeline takes the pool', async () => {
    const s = scene();
    const prestarted = PrestartedPool.start();
    // A worker asks once it listens: heard, it is waiting, and its own request has gone unanswered.
    const listener = new BroadcastChannel(prestarted.setupChannel);
    await new Promise<void>((resolve) => {
      listener.onmessage = (message: MessageEvent) => {
        if (asWorkerMessage(message.data)?.code === 'SETUP_WANTED') resolve();
      };
    });
    listener.close();
    const pipeline = await s.pipeline(
      {
        ...recorded(s),
      },
      prestarted,
    );
    expect(prestarted.taken).toBe(true);
    const all = ids('waiting', 2000);
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: { i } })));
    await pipeline.drained();
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all);
  });

  it('replaces a worker that dies: its replacement asks for the setup, and every event is stored once', async () => {
    const s = scene();
    const pipeline = await s.pipeline(
      {
        queue: { capacityBytes: 256 * 1024 },
        batch: { maxRecords: 100 },
        retry: FAST_RETRY,
        transform: fixtureUrl('crash-transform'),
        ...recorded(s),
      },
      PrestartedPool.start(),
    );
    const all = ids('crash', 2000);
    const crashers = new Set([150, 820, 1600]);
    await pipeline.pushMany(
      all.map((id, i) => ({ id, payload: crashers.has(i) ? { i, crash: 'exit', markerDir: s.dir } : { i } })),
    );
    await pipeline.drained();
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    expect(pipeline.stats().workerFailures).toBeGreaterThanOrEqual(crashers.size);
  });

  it('is left by a pipeline whose workers differ, and ended; the pipeline runs on its own pool', async () => {
    const s = scene();
    const prestarted = PrestartedPool.start();
    const pipeline = await s.pipeline(
      {
        workers: { max: 1 },
        ...recorded(s),
      },
      prestarted,
    );
    expect(prestarted.taken).toBe(false);
    // Ended by the pipeline that left it: release() finds it released and waits for its end.
    await prestarted.release();
    const all = ids('own-pool', 1000);
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: { i } })));
    await pipeline.drained();
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all);
    expect(new Set(s.rows().map((r) => r.thread)).size).toBe(1);
  });

  // Linux lists a process's threads in /proc/self/task: the pool's worker threads are counted there.
  it.skipIf(!existsSync('/proc/self/task'))(
    'ends its threads on release() when nobody took it, and leaves nothing that keeps the process alive',
    async () => {
      const poolUrl = new URL('../../dist/src/engine/worker-pool.js', import.meta.url).href;
      const script = `
        import { readdirSync } from 'node:fs';
        import { PrestartedPool } from ${JSON.stringify(poolUrl)};
        const threads = () => readdirSync('/proc/self/task').length;
        const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
        // The first pool also starts the threads Node starts lazily (libuv's pool…).
        await PrestartedPool.start().release();
        const before = threads();
        const pool = PrestartedPool.start();
        for (let i = 0; i < 500 && threads() <= before; i++) await sleep(10);
        console.log(threads() > before ? 'worker up' : 'no worker');
        await pool.release();
        // A destroyed pool's threads are joined; one may still be on its way out for a moment.
        for (let i = 0; i < 500 && threads() > before; i++) await sleep(10);
        console.log(threads() > before ? 'threads left: ' + (threads() - before) : 'no thread left', pool.taken);
      `;
      // Something left running would keep the child alive: killed after 15 s, it fails the test.
      const { code, stdout, stderr } = await runNode(['--input-type=module', '-e', script], {
        timeoutMs: 15_000,
      });
      expect({ code, stdout, stderr }).toEqual({
        code: 0,
        stdout: 'worker up\nno thread left false\n',
        stderr: '',
      });
    },
    20_000,
  );
});

describe('a prestarted pool with a client to preload', () => {
  it('has its worker load the PostgreSQL client while it waits, with no setup sent', async () => {
    // NODE_DEBUG=module has Node's CommonJS loader name every module it loads, on stderr: `pg`
    // (optional, so loaded through require) shows there once a worker loaded it. Nothing takes the
    // pool, so nothing else would load it.
    const poolUrl = new URL('../../dist/src/engine/worker-pool.js', import.meta.url).href;
    const script = `
      import { PrestartedPool } from ${JSON.stringify(poolUrl)};
      PrestartedPool.start(['postgres']);
      setTimeout(() => {}, 60_000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NODE_DEBUG: 'module' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const loaded = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 20_000);
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (/node_modules\/pg\/lib\/index\.js/.test(stderr)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    child.kill();
    expect(loaded).toBe(true);
  }, 30_000);
});

describe('receiveSetup', () => {
  const setup = { closeChannel: 'c', taskStarts: new SharedArrayBuffer(8) } as unknown as WorkerSetup;

  it('returns a setup given as workerData as it is', async () => {
    expect(await receiveSetup(setup)).toBe(setup);
  });

  it('asks on the setup channel and takes the SETUP sent in answer, ignoring anything else', async () => {
    const name = `test-setup-${Math.random()}`;
    const pipelineSide = new BroadcastChannel(name);
    const heard: unknown[] = [];
    pipelineSide.onmessage = (message: MessageEvent) => {
      heard.push(message.data);
      if (asWorkerMessage(message.data)?.code !== 'SETUP_WANTED') return;
      pipelineSide.postMessage({ code: 'SETUP' });
      pipelineSide.postMessage({ code: 'CLOSE' });
      pipelineSide.postMessage({ code: 'SETUP', setup } satisfies WorkerMessage);
    };
    try {
      const received = await receiveSetup({ setupChannel: name });
      // Cloned across the channel; its shared memory shared, not copied.
      expect(received.closeChannel).toBe('c');
      expect(received.taskStarts).toBeInstanceOf(SharedArrayBuffer);
      new Int32Array(received.taskStarts)[0] = 7;
      expect(new Int32Array(setup.taskStarts)[0]).toBe(7);
      expect(heard).toEqual([{ code: 'SETUP_WANTED' }]);
    } finally {
      pipelineSide.close();
    }
  });

  it('reads SETUP only with a setup object', () => {
    expect(asWorkerMessage({ code: 'SETUP' })).toBeUndefined();
    expect(asWorkerMessage({ code: 'SETUP', setup: null })).toBeUndefined();
    expect(asWorkerMessage({ code: 'SETUP', setup })).toEqual({ code: 'SETUP', setup });
    expect(asWorkerMessage({ code: 'SETUP_WANTED' })).toEqual({ code: 'SETUP_WANTED' });
  });
});
