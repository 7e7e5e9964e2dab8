/**
 * A sink down for longer than the ring can hold, on a disk queue: the main thread pushes `events`
 * events (pushMany of 1 000, ~200 bytes each) while every write fails; pushes keep resolving, the
 * backlog grows on disk, and the process's memory is sampled as it grows. Then the sink comes back
 * and the backlog is written. Prints one JSON line per tenth of the load (backlog on disk, RSS,
 * V8 heap, external memory) and one for the drain (events/s, every event written once by count).
 * Ring 16 MiB, 2 workers, fsync `never` (the disk's speed is not the point), maxDiskBytes 4 GiB.
 *
 *   npm run bench:disk-backlog -- [events=2000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../src/engine/pipeline.js';

const events = Number(process.argv[2] ?? 2_000_000);
const dir = mkdtempSync(join(tmpdir(), 'sluice-disk-backlog-'));
const control = new SharedArrayBuffer(8);
const words = new Int32Array(control);
Atomics.store(words, 0, 1);
const pipeline = await createPipeline({
  queue: { durability: 'disk', path: join(dir, 'q'), fsync: 'never', maxDiskBytes: 4 * 1024 ** 3 },
  workers: { min: 2, max: 2 },
  sink: { module: new URL('./down-sink.js', import.meta.url), options: { control } },
  deadLetter: { type: 'null' },
  retry: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 1_000_000 },
  log: { level: 'error' },
});
const MiB = 1024 * 1024;
const sample = (phase: string, pushed: number) => {
  const m = process.memoryUsage();
  const disk = pipeline.stats().disk!;
  console.log(
    JSON.stringify({
      phase,
      pushed,
      backlogEvents: disk.backlogRecords,
      logMiB: Math.round(disk.bytes / MiB),
      rssMiB: Math.round(m.rss / MiB),
      heapUsedMiB: Math.round(m.heapUsed / MiB),
      externalMiB: Math.round(m.external / MiB),
      arrayBuffersMiB: Math.round(m.arrayBuffers / MiB),
    }),
  );
};
const group = 1_000;
const pad = 'x'.repeat(120);
const started = performance.now();
let pushed = 0;
let next = events / 10;
sample('start', 0);
while (pushed < events) {
  const batch = Array.from({ length: group }, (_, i) => ({
    id: `e-${pushed + i}`,
    payload: { i: pushed + i, at: Date.now(), pad },
  }));
  pushed += await pipeline.pushMany(batch);
  if (pushed >= next) {
    sample('sink down', pushed);
    next += events / 10;
  }
}
const pushSeconds = (performance.now() - started) / 1000;
Atomics.store(words, 0, 0);
const drainStart = performance.now();
await pipeline.drained();
const drainSeconds = (performance.now() - drainStart) / 1000;
sample('drained', pushed);
console.log(
  JSON.stringify({
    events,
    pushedPerSecond: Math.round(events / pushSeconds),
    drainedPerSecond: Math.round(events / drainSeconds),
    written: Atomics.load(words, 1),
    workers: 2,
    cpus: availableParallelism(),
  }),
);
await pipeline.close();
rmSync(dir, { recursive: true, force: true });
