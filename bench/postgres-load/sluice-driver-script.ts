/**
 * Sluice as a library: createPipeline with the cpu-heavy transform and the postgres sink (every
 * other option default), the file's lines pushed raw with pushRawMany — parsed in the workers —
 * then drained. Timed from the first push to the drain: every row written and acknowledged. Prints
 * one JSON line: the timed span's ends (ms since the epoch), the process's CPU over the span (every
 * thread: the workers, V8's helpers; what the pipeline costs once it runs, its start-up and
 * shutdown left out) and the close's counts.
 *
 *   node sluice-driver-script.js DATABASE_URL FILE TABLE [WORKERS_JSON]
 *
 * WORKERS_JSON: the pipeline's `workers` options, as JSON (a variant of the defaults).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createPipeline, type PipelineOptions } from '../../src/index.js';
import { epochMs } from './child-run.js';
import { CPU_HEAVY_TRANSFORM } from './cpu-heavy-event.js';

const CHUNK = 1000;
const [url, file, table, workers] = process.argv.slice(2) as [string, string, string, string | undefined];
const pipeline = await createPipeline({
  ...(workers === undefined ? {} : { workers: JSON.parse(workers) as PipelineOptions['workers'] }),
  transform: CPU_HEAVY_TRANSFORM,
  sink: { type: 'postgres', connectionString: url, table },
});
let startedAtMs: number | undefined;
let spanCpu: NodeJS.CpuUsage | undefined;
let chunk: string[] = [];
const push = async () => {
  if (startedAtMs === undefined) {
    startedAtMs = epochMs();
    spanCpu = process.cpuUsage();
  }
  await pipeline.pushRawMany(chunk);
  chunk = [];
};
for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (line === '') continue;
  chunk.push(line);
  if (chunk.length === CHUNK) await push();
}
if (chunk.length > 0) await push();
await pipeline.drained();
const lastRowAtMs = epochMs();
const used = process.cpuUsage(spanCpu);
const summary = await pipeline.close();
process.stdout.write(
  `${JSON.stringify({
    startedAtMs,
    lastRowAtMs,
    spanCpuUs: used.user + used.system,
    written: summary.written,
    deadLettered: summary.deadLettered,
  })}\n`,
);
