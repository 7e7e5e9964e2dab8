/**
 * The parallel ceiling: how much more work N plain threads do than one, on this machine, for the
 * benchmark transforms themselves — no queue, no engine, nothing shared. No multi-threaded engine
 * can beat a single-threaded one by more than this ratio on the same workload, so `sluice bench`
 * figures (engine / seed-port) are best read against it.
 *
 *   npm run bench:ceiling [-- --seconds 3 --threads 2 --rounds 3]
 *
 * Each workload runs alone for `seconds` in one thread, then in `threads` threads at once,
 * `rounds` times alternating; the figures are medians.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { DecodedEvent } from '../../src/codec/event.js';
import { benchEnv, flag, median } from '../lib/env.js';

interface Job {
  workload: string;
  ms: number;
}

const WORKLOADS: Record<string, { env?: Record<string, string>; describe: string }> = {
  'int-loop': { describe: 'integer arithmetic, no allocation (control)' },
  'cpu-heavy': { describe: 'the cpu-heavy transform (JavaScript SHA-256 ×4 + regex)' },
  'cpu-heavy:node-crypto': {
    env: { SLUICE_BENCH_HASH: 'node' },
    describe: 'the cpu-heavy transform on node:crypto (SHA-256 ×16 + regex)',
  },
  'parse-validate': { describe: 'the bytes transform (JSON.parse + validate + add + stringify)' },
};

function event(seq: number): DecodedEvent {
  return {
    id: `e${seq}`,
    key: `user-${seq % 4096}`,
    ts: 0,
    payload: {
      user: seq % 4096,
      action: 'view',
      path: `/catalog/item/${seq % 977}`,
      amount: (seq % 10_000) / 100,
      tags: ['web', 'eu'],
    },
  };
}

async function work(job: Job): Promise<number> {
  const end = performance.now() + job.ms;
  let done = 0;
  if (job.workload === 'int-loop') {
    let x = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 100_000; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
      done += 100_000;
    }
    return x === 0.5 ? -1 : done;
  }
  const name = job.workload.startsWith('cpu-heavy') ? 'cpu-heavy' : 'parse-validate';
  const transform = (await import(`../../src/harness/scenarios/transforms/${name}.js`)) as {
    default: (event: DecodedEvent) => unknown;
  };
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      const e = event(done + i);
      if (name === 'parse-validate') e.payload = JSON.parse(JSON.stringify(e.payload));
      transform.default(e);
    }
    done += 100;
  }
  return done;
}

function inThreads(workload: string, threads: number, ms: number): Promise<number[]> {
  const env = { ...process.env, ...WORKLOADS[workload]!.env };
  return Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { workload, ms }, env });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
}

async function main(): Promise<void> {
  const seconds = Number(flag('seconds') ?? 3);
  const threads = Number(flag('threads') ?? availableParallelism());
  const rounds = Number(flag('rounds') ?? 3);
  const env = benchEnv();
  console.log(
    `parallel ceiling — Node ${env.node}, ${env.cpus} CPUs, ${threads} threads vs 1, ` +
      `${seconds} s each, median of ${rounds}, commit ${env.commit}\n`,
  );
  console.log('| workload | 1 thread (ops/s) | N threads (ops/s) | ceiling N/1 |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const workload of Object.keys(WORKLOADS)) {
    const ones: number[] = [];
    const manys: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const [one] = await inThreads(workload, 1, seconds * 1000);
      const many = (await inThreads(workload, threads, seconds * 1000)).reduce((a, b) => a + b, 0);
      ones.push(one! / seconds);
      manys.push(many / seconds);
    }
    const one = median(ones);
    const many = median(manys);
    console.log(
      `| ${workload}: ${WORKLOADS[workload]!.describe} | ${Math.round(one).toLocaleString('en')} | ` +
        `${Math.round(many).toLocaleString('en')} | ${(many / one).toFixed(2)}× |`,
    );
  }
}

if (isMainThread) await main();
else parentPort!.postMessage(await work(workerData as Job));
