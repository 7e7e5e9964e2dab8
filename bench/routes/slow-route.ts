/**
 * What a slow route does to the others. Events are released from the ring in order, once every
 * route they went to wrote them, so a route slower than the rest holds ring space, and a full ring
 * holds every producer: the whole pipeline moves at the pace of its slowest route, for the events
 * that go there. Runs, in one process and in turn, `rounds` times each:
 *
 *   fast          one route, the null sink
 *   fast+slow     every event to the null route and to a slow one (a sink taking 5 ms per batch
 *                 plus 20 µs per record of wall time, no CPU)
 *   fast+slow10   every event to the null route, one in ten also to the slow one
 *   slow          the slow route alone
 *
 * and prints one JSON line per run: events pushed per second (closed loop, pushMany of 500), the
 * null route's writes per second, and the ring's mean fill. Workers 2, ring 1 MiB.
 *
 *   npm run bench:slow-route -- [seconds=4] [rounds=3]
 */
import { availableParallelism } from 'node:os';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import { createPipeline } from '../../src/engine/pipeline.js';

const [seconds = 4, rounds = 3] = process.argv.slice(2, 4).map(Number);
const SLOW = {
  module: new URL('./delay-sink.js', import.meta.url).href,
  options: { msPerBatch: 5, usPerRecord: 20 },
};
const NULL = { type: 'null' } as const;

const CASES: Record<string, Pick<PipelineOptions, 'sink' | 'routes' | 'defaultRoute'>> = {
  fast: { sink: NULL },
  'fast+slow': {
    routes: {
      fast: { sink: NULL, when: { path: 'payload.all', equals: true } },
      slow: { sink: SLOW, when: { path: 'payload.all', equals: true } },
    },
  },
  'fast+slow10': {
    routes: {
      fast: { sink: NULL, when: { path: 'payload.all', equals: true } },
      slow: { sink: SLOW, when: { path: 'payload.tenth', equals: 0 } },
    },
  },
  slow: { sink: SLOW },
};

async function run(name: string): Promise<Record<string, number | string>> {
  const pipeline = await createPipeline({
    ...CASES[name],
    deadLetter: NULL,
    queue: { capacityBytes: 1024 * 1024 },
    workers: { min: 2, max: 2 },
    log: { level: 'error' },
  });
  const batch = Array.from({ length: 500 }, (_, i) => ({
    payload: { all: true, tenth: i % 10, text: 'x'.repeat(64) },
  }));
  const started = performance.now();
  const until = started + seconds * 1000;
  let pushed = 0;
  let fillSum = 0;
  let fillSamples = 0;
  while (performance.now() < until) {
    pushed += await pipeline.pushMany(batch);
    const q = pipeline.stats().queue;
    fillSum += q.depthBytes / q.capacityBytes;
    fillSamples++;
  }
  await pipeline.drained();
  const elapsed = (performance.now() - started) / 1000;
  const metrics = await pipeline.metrics.metrics();
  const fastWritten = Number(
    /^sluice_events_written_total\{route="(?:fast|default)",sink="null"\} (\d+)$/m.exec(metrics)?.[1] ?? 0,
  );
  await pipeline.close();
  return {
    case: name,
    eventsPerSecond: Math.round(pushed / elapsed),
    fastRouteWritesPerSecond: Math.round(fastWritten / elapsed),
    meanRingFill: Number((fillSum / fillSamples).toFixed(2)),
    workers: 2,
    cpus: availableParallelism(),
  };
}

for (let round = 0; round < rounds; round++)
  for (const name of Object.keys(CASES)) console.log(JSON.stringify(await run(name)));
