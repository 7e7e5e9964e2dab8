import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BULLMQ_CONCURRENCY, BULLMQ_PROCESSES, bullmqConnection, EVENTS_PER_JOB } from './bullmq-setup.js';
import {
  type ChildOutcome,
  type ChildSpec,
  failureOf,
  type RunningChild,
  rolesOf,
  startChild,
} from './child-run.js';
import type { LoadSystem, SystemRun } from './load-system.js';

const script = (name: string) => new URL(`./${name}.js`, import.meta.url).pathname;

interface Message {
  type?: string;
  at?: number;
  events?: number;
  reason?: string;
}

/** Resolves with the child's first message of `type`, or undefined if it exits first. */
function messageOf(running: RunningChild, type: string): Promise<Message | undefined> {
  return new Promise((resolve) => {
    const onMessage = (message: Message) => {
      if (message.type !== type) return;
      running.child.off('message', onMessage);
      resolve(message);
    };
    running.child.on('message', onMessage);
    void running.done.then(() => resolve(undefined));
  });
}

/** Removes the run's queue from Redis; says why not if it cannot within 30 s. */
async function obliterate(redisUrl: string, name: string): Promise<string | undefined> {
  const queue = new Queue(name, { connection: bullmqConnection(redisUrl) });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`queue ${name} not obliterated within 30 s`), 30_000);
  });
  try {
    return await Promise.race([queue.obliterate({ force: true }).then(() => undefined), late]);
  } catch (error) {
    return `queue ${name} not obliterated: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
    await queue.close().catch(() => undefined);
  }
}

/**
 * The job-queue design: a producer process enqueues a job per 100 events into Redis, and two
 * worker processes × concurrency 8 run the same transform and the same batched, idempotent insert
 * (bullmq-worker-script.ts). The workers are started and connected first, as a deployed queue's
 * are; the run is timed from the producer's first add to the completion of the job that brought
 * the count to every event. Its queue is its own and is obliterated afterwards.
 */
export function bullmqSystem(redisUrl: string, tag: string): LoadSystem {
  return {
    name: 'bullmq',
    describe: `BullMQ: a producer process, ${BULLMQ_PROCESSES} worker processes × concurrency ${BULLMQ_CONCURRENCY}, a job per ${EVENTS_PER_JOB} events`,
    commitsAsItGoes: true,
    async unavailable() {
      const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0 });
      try {
        await redis.connect();
        await redis.ping();
        return undefined;
      } catch (error) {
        return `Redis at ${redisUrl} is unreachable (${(error as Error).message})`;
      } finally {
        redis.disconnect();
      }
    },
    async run(job): Promise<SystemRun> {
      const name = `pgload-${tag}-${job.round}`;
      const spec = (label: string, file: string, args: string[]): ChildSpec => ({
        label,
        command: process.execPath,
        args: [script(file), ...args],
        cwd: job.workDir,
        timeoutMs: job.timeoutMs,
        node: true,
        ipc: true,
      });
      const workers = Array.from({ length: BULLMQ_PROCESSES }, (_, i) =>
        startChild(
          spec(`bullmq-worker-${i + 1}`, 'bullmq-worker-script', [
            redisUrl,
            name,
            job.databaseUrl,
            job.table,
          ]),
        ),
      );
      const children: RunningChild[] = [...workers];
      let failure: string | undefined;
      let firstAt: number | undefined;
      let lastAt = Number.NEGATIVE_INFINITY;
      try {
        const ready = await Promise.all(workers.map((w) => messageOf(w, 'ready')));
        if (ready.includes(undefined)) throw new Error('a BullMQ worker process ended before it was ready');
        let written = 0;
        let stopWaiting = () => {};
        const allWritten = new Promise<void>((resolve) => {
          stopWaiting = resolve;
          for (const worker of workers) {
            worker.child.on('message', (message: Message) => {
              if (message.type === 'failed') {
                failure ??= `a BullMQ job failed: ${message.reason}`;
                resolve();
              }
              if (message.type !== 'done') return;
              written += message.events ?? 0;
              lastAt = Math.max(lastAt, message.at ?? Number.NaN);
              if (written >= job.events) resolve();
            });
            // A worker that ends (crashed, or killed at the timeout) ends the wait too.
            void worker.done.then(() => resolve());
          }
        });
        const producer = startChild(
          spec('bullmq-producer', 'bullmq-producer-script', [redisUrl, name, job.file]),
        );
        children.push(producer);
        void messageOf(producer, 'first').then((message) => {
          firstAt = message?.at;
        });
        // A producer that fails leaves the workers waiting for jobs that never come.
        void producer.done.then((outcome) => {
          if (outcome.code !== 0) stopWaiting();
        });
        await allWritten;
        if (written < job.events) failure ??= `BullMQ completed jobs for ${written} of ${job.events} events`;
      } catch (error) {
        failure ??= (error as Error).message;
      } finally {
        for (const worker of workers) if (worker.child.connected) worker.child.send({ type: 'close' });
      }
      const outcomes: ChildOutcome[] = await Promise.all(children.map((c) => c.done));
      for (const outcome of outcomes) failure ??= failureOf(outcome, job.timeoutMs);
      failure ??= await obliterate(redisUrl, name);
      const startedAtMs = firstAt ?? Number.NaN;
      return {
        seconds: (lastAt - startedAtMs) / 1000,
        timedFrom: 'first enqueue → last row',
        startedAtMs,
        ...(failure ? { failure } : {}),
        processes: outcomes.map((outcome) => {
          const roles = rolesOf(outcome);
          return { label: outcome.label, ...(roles ? { roles } : {}) };
        }),
        notes: { processSeconds: Object.fromEntries(outcomes.map((o) => [o.label, o.wallSeconds])) },
      };
    },
  };
}
