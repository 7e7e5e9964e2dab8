/**
 * The server side of bench/http/full-wait.ts, in its own process so that its CPU is its own: an
 * http source into SQLite, one worker, a 1 MiB ring. Prints nothing; answers the parent's 'stop'
 * with its CPU time and the events written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../src/engine/pipeline.js';
import { HttpSource } from '../../src/sources/http-source.js';

const [fullWaitMs, port] = process.argv.slice(2).map(Number) as [number, number];
const dir = mkdtempSync(join(tmpdir(), 'sluice-full-wait-'));
const pipeline = await createPipeline({
  workers: { min: 1, max: 1 },
  queue: { capacityBytes: 1024 * 1024 },
  sink: { type: 'sqlite', path: join(dir, 'out.db') },
  deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
  log: { level: 'silent' },
});
const source = new HttpSource({ port, fullWaitMs });
const stopping = new AbortController();
const running = source.start(pipeline, stopping.signal);
await source.listening();
process.send?.('ready');
process.on('message', async (message) => {
  if (message !== 'stop') return;
  const cpu = process.cpuUsage();
  const written = pipeline.stats().written;
  stopping.abort();
  await source.stop();
  await running.catch(() => undefined);
  await pipeline.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  process.send?.({ cpuMs: (cpu.user + cpu.system) / 1000, written });
  process.exit(0);
});
