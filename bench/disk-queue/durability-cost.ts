/**
 * What `queue.durability: 'disk'` costs: the same closed-loop load — pushMany of `batch` small
 * events, `concurrency` pushes in flight, into a null sink — with the ring alone and with the disk
 * log under each fsync policy, alternating, `rounds` times. The disk backlog beyond the ring is
 * bounded at four rings (`maxDiskBytes`), so pushes are paced by the sink, and a run's rate counts
 * until everything pushed is written (drained). One JSON line per run: events/s and CPU µs per
 * event of this process (every thread), fsyncs per 1000 events, log bytes per event. 2 workers.
 *
 *   npm run bench:disk-queue -- [seconds=3] [rounds=3] [batch=100] [concurrency=4]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../src/engine/pipeline.js';

const [seconds = 3, rounds = 3, batch = 100, concurrency = 4] = process.argv.slice(2, 6).map(Number);
const MODES = ['memory', 'group', 'interval', 'never'] as const;

async function run(mode: (typeof MODES)[number]): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-durability-'));
  const pipeline = await createPipeline({
    queue:
      mode === 'memory'
        ? {}
        : { durability: 'disk', path: join(dir, 'q'), fsync: mode, maxDiskBytes: 4 * 16 * 1024 * 1024 },
    workers: { min: 2, max: 2 },
    sink: { type: 'null' },
    deadLetter: { type: 'null' },
    log: { level: 'error' },
  });
  const events = Array.from({ length: batch }, (_, i) => ({
    key: `k${i % 16}`,
    payload: { i, text: 'x'.repeat(100) },
  }));
  const until = performance.now() + seconds * 1000;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let pushed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      // Read after the await: `pushed += await …` would read `pushed` before it, and lose the
      // other loops' additions made meanwhile.
      while (performance.now() < until) {
        const accepted = await pipeline.pushMany(events);
        pushed += accepted;
      }
    }),
  );
  await pipeline.drained();
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const disk = pipeline.stats().disk;
  await pipeline.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    mode,
    eventsPerSecond: Math.round(pushed / elapsed),
    cpuUsPerEvent: Number(((used.user + used.system) / pushed).toFixed(2)),
    fsyncsPer1000Events: Number((((disk?.fsyncs ?? 0) * 1000) / pushed).toFixed(2)),
    logBytesPerEvent: Math.round((disk?.bytesAppended ?? 0) / pushed),
    batch,
    concurrency,
    workers: 2,
    cpus: availableParallelism(),
  };
}

for (let round = 0; round < rounds; round++)
  for (const mode of MODES) console.log(JSON.stringify(await run(mode)));
