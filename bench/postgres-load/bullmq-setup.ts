import type { ConnectionOptions } from 'bullmq';

/** Worker processes of the BullMQ deployment. */
export const BULLMQ_PROCESSES = 2;
/** Jobs each worker process runs at once. */
export const BULLMQ_CONCURRENCY = 8;
/** Events per job. */
export const EVENTS_PER_JOB = 100;

/** BullMQ's connection options for a redis:// URL; a worker's must not limit retries per request. */
export function bullmqConnection(redisUrl: string, worker = false): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(worker ? { maxRetriesPerRequest: null } : {}),
  };
}
