/**
 * The BullMQ producer: the file read line by line, a job per 100 lines, added 50 jobs at a time
 * with addBulk (removed from Redis once complete). Tells its parent when the first add starts
 * (`{ type: 'first', at }`) and when every job is in (`{ type: 'enqueued', jobs, at }`).
 *
 *   node bullmq-producer-script.js REDIS_URL QUEUE FILE
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { bullmqConnection, EVENTS_PER_JOB } from './bullmq-setup.js';
import { epochMs } from './child-run.js';

const JOBS_PER_ADD = 50;

const [redisUrl, name, file] = process.argv.slice(2) as [string, string, string];
const queue = new Queue<{ lines: string[] }>(name, { connection: bullmqConnection(redisUrl) });
await queue.waitUntilReady();
let jobs: { name: string; data: { lines: string[] }; opts: { removeOnComplete: boolean } }[] = [];
let lines: string[] = [];
let added = 0;
let first = true;
const add = async () => {
  if (first) process.send!({ type: 'first', at: epochMs() });
  first = false;
  added += jobs.length;
  await queue.addBulk(jobs);
  jobs = [];
};
const cut = () => {
  jobs.push({ name: 'events', data: { lines }, opts: { removeOnComplete: true } });
  lines = [];
};
for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (line === '') continue;
  lines.push(line);
  if (lines.length === EVENTS_PER_JOB) cut();
  if (jobs.length === JOBS_PER_ADD) await add();
}
if (lines.length > 0) cut();
if (jobs.length > 0) await add();
process.send!({ type: 'enqueued', jobs: added, at: epochMs() });
await queue.close();
process.disconnect();
