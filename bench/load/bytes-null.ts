/**
 * NDJSON bytes via pushRaw → parse + add a field + serialise (NDJSON sink into /dev/null), with
 * 1 and 2 workers, beside a single-thread loop doing the same work, in one run.
 *
 * node dist/bench/load/bytes-null.js [--events N] [--json FILE]
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { createPipeline } from '../../src/engine/pipeline.js';
import { benchEnv, flag, median } from '../lib/env.js';

const events = Number(flag('events') ?? 300_000);
const rounds = Number(flag('rounds') ?? 3);
const LINES_PER_PUSH = 1000;

function makeLines(n: number): Buffer[] {
  const lines: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      Buffer.from(
        JSON.stringify({
          id: `evt-${i}`,
          user: i % 5000,
          action: i % 3 ? 'view' : 'click',
          path: `/catalog/item/${i % 977}`,
          ua: 'Mozilla/5.0 (X11; Linux x86_64)',
          ms: 1_732_800_000_000 + i,
        }),
      ),
    );
  }
  return lines;
}

async function singleThread(lines: Buffer[]): Promise<number> {
  const fd = openSync('/dev/null', 'w');
  const started = performance.now();
  let text = '';
  for (let i = 0; i < lines.length; i++) {
    const event = JSON.parse(lines[i]!.toString('utf8')) as Record<string, unknown>;
    event.ingestedBy = 'sluice';
    text += `${JSON.stringify({ id: event.id, payload: event })}\n`;
    if ((i + 1) % LINES_PER_PUSH === 0) {
      writeSync(fd, text);
      text = '';
    }
  }
  writeSync(fd, text);
  closeSync(fd);
  return lines.length / ((performance.now() - started) / 1000);
}

async function engine(lines: Buffer[], workers: number): Promise<number> {
  const pipeline = await createPipeline({
    queue: { capacityBytes: 16 * 1024 * 1024 },
    workers: { min: workers, max: workers, concurrentBatchesPerWorker: 2 },
    batch: { maxRecords: 2000 },
    transform: new URL('../../src/harness/scenarios/transforms/add-field.js', import.meta.url),
    sink: { type: 'ndjson', path: '/dev/null', fsync: 'never' },
    deadLetter: { type: 'null' },
  });
  const started = performance.now();
  for (let i = 0; i < lines.length; i += LINES_PER_PUSH) {
    await pipeline.pushRawMany(lines.slice(i, i + LINES_PER_PUSH));
  }
  await pipeline.drained();
  const seconds = (performance.now() - started) / 1000;
  const summary = await pipeline.close();
  if (summary.written !== lines.length) throw new Error(`engine wrote ${summary.written} of ${lines.length}`);
  return lines.length / seconds;
}

const env = benchEnv();
const lines = makeLines(events);
const results: Record<string, number[]> = {
  'single-thread loop': [],
  'engine, 1 worker': [],
  'engine, 2 workers': [],
};
for (let r = 0; r < rounds; r++) {
  results['single-thread loop']!.push(await singleThread(lines));
  results['engine, 1 worker']!.push(await engine(lines, 1));
  results['engine, 2 workers']!.push(await engine(lines, 2));
}
const baseline = median(results['single-thread loop']!);
console.log(
  `bytes → parse + add field + serialise → /dev/null; ${events} events; Node ${env.node}, ${env.cpus} CPUs; median of ${rounds}`,
);
const table = Object.entries(results).map(([system, rates]) => ({
  system,
  'events/s': Math.round(median(rates)),
  'vs single-thread': (median(rates) / baseline).toFixed(2),
}));
console.table(table);
const json = flag('json');
if (json) writeFileSync(json, `${JSON.stringify({ env, events, rounds, results: table }, null, 2)}\n`);
