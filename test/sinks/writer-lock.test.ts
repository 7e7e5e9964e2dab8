import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

describe('WriterLock', () => {
  it('lets one thread at a time write: 3 threads x 2000 plain read-modify-writes lose no increment', async () => {
    const lock = new SharedArrayBuffer(4);
    const counter = new SharedArrayBuffer(8);
    const rounds = 2000;
    const url = new URL('../../dist/test/fixtures/writer-lock-thread.js', import.meta.url);
    await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise((resolve, reject) => {
            const worker = new Worker(url, { workerData: { lock, counter, rounds } });
            worker.once('message', resolve);
            worker.once('error', reject);
            // A thread that ends without reporting must fail the test, not hang it.
            worker.once('exit', (code) =>
              reject(new Error(`lock thread exited (code ${code}) before finishing`)),
            );
          }),
      ),
    );
    expect(new Int32Array(counter)[0]).toBe(3 * rounds);
    expect(new Int32Array(lock)[0]).toBe(0);
  });
});
