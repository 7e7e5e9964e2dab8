import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WriterLock, writerLockBuffer } from '../../src/sinks/writer-lock.js';

describe('WriterLock', () => {
  it('lets one thread at a time write: 3 threads x 2000 plain read-modify-writes lose no increment', async () => {
    const lock = writerLockBuffer();
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

  it('names one writer to checkpoint each time the bytes written since the last reach the mark', () => {
    const lock = new WriterLock(writerLockBuffer());
    const mark = 1024 * 1024;
    // 300 KiB a batch: the 4th batch passes 1 MiB and is named, the count starts again, the 8th is.
    const named = Array.from({ length: 10 }, () => lock.noteWritten(300 * 1024, mark));
    expect(named.flatMap((yes, i) => (yes ? [i + 1] : []))).toEqual([4, 8]);
    // One batch past the mark on its own is named at once.
    expect(lock.noteWritten(2 * mark, mark)).toBe(true);
  });

  it('refuses a buffer too small for its words', () => {
    expect(() => new WriterLock(new SharedArrayBuffer(4))).toThrow(/needs 8 bytes, got 4/);
  });
});
