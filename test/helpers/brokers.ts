/**
 * The NATS JetStream and Redis servers the broker suites use, checked once at import. As with
 * PostgreSQL (see postgres.ts): under CI=true an unreachable server fails the suite; elsewhere the
 * suite skips, saying why.
 */

import { Redis } from 'ioredis';
import { connect } from 'nats';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function natsProblem(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 3000, reconnect: false });
    try {
      // A server without JetStream answers plain NATS but fails here.
      await (await nc.jetstreamManager({ timeout: 3000 })).getAccountInfo();
    } finally {
      await nc.close();
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function redisProblem(): Promise<string | undefined> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    redis.disconnect();
  }
}

export interface Service {
  name: string;
  url: string;
  /** Why the server is unusable, or undefined. */
  problem: string | undefined;
  /** True when its suites should be skipped (unreachable, and not in CI). */
  skip: boolean;
  /** In a beforeAll: fails at once when the server is unreachable (always so under CI=true). */
  require(): void;
  /** At the top of a suite: prints why it is skipped or failing, if it is. */
  announce(suite: string): void;
}

function service(name: string, url: string, problem: string | undefined): Service {
  return {
    name,
    url,
    problem,
    skip: problem !== undefined && process.env.CI !== 'true',
    require() {
      if (problem !== undefined) throw new Error(`${name} at ${url} is unusable: ${problem}`);
    },
    announce(suite: string) {
      if (problem === undefined) return;
      const what = process.env.CI === 'true' ? 'CI=true, so failing' : 'skipped';
      console.warn(`${suite}: ${name} at ${url} is unusable (${problem}); ${what}`);
    },
  };
}

const [natsIssue, redisIssue] = await Promise.all([natsProblem(), redisProblem()]);

export const nats = service('NATS JetStream', NATS_URL, natsIssue);
export const redis = service('Redis', REDIS_URL, redisIssue);

/** A name no other test run uses: prefix, pid, time and randomness. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
