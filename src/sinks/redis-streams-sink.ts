import type { Redis } from 'ioredis';
import type { SinkRecord } from '../codec/event.js';
import { redactedUrl } from '../errors.js';
import { importOptional } from '../optional-package.js';
import { payloadJsonOf, type Sink } from './sink.js';
import { messageOf, requireOpen, sinkFailure } from './sink-support.js';

export interface RedisStreamsSinkOptions {
  /** `redis://` or `rediss://` URL, with credentials and database if needed. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** Key of the stream records are appended to. */
  stream: string;
  /**
   * How long a record's id is remembered, s: a record rewritten within it is stored once.
   * @default 86400
   */
  dedupTtlSeconds?: number;
  /** Trim the stream to about this many entries (`XADD … MAXLEN ~`). Omitted: never trimmed. */
  maxLen?: number;
  /**
   * How long connecting, and each write, may take, ms; a connection that sends nothing back for
   * this long while a write waits is dropped and made again. @default 5000
   */
  timeoutMs?: number;
}

export const DEFAULT_REDIS_STREAMS_SINK_OPTIONS = {
  url: 'redis://127.0.0.1:6379',
  dedupTtlSeconds: 86_400,
  timeoutMs: 5_000,
} as const satisfies Partial<RedisStreamsSinkOptions>;

/** Every option given; only src/config/sinks/redis-streams-sink-schema.ts makes these. */
export interface ResolvedRedisStreamsSinkOptions {
  url: string;
  stream: string;
  dedupTtlSeconds: number;
  maxLen: number | undefined;
  timeoutMs: number;
}

/** Reply errors a later attempt can clear: memory, a busy script, loading, failover, cluster churn. */
const RETRY_REPLY = /^(OOM|BUSY|LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)\b/;
/** Delay before each reconnect attempt, ms: growing, capped. */
const reconnectDelay = (attempt: number) => Math.min(attempt * 200, 2_000);

/**
 * KEYS[1] is the stream, KEYS[1 + i] the dedup key of record i. ARGV[1] is the TTL in s, ARGV[2]
 * the MAXLEN (0: no trim); then per record a field count n and n field/value strings.
 *
 * Each record is appended only if its dedup key is absent, and the key is set only after XADD
 * succeeded: were it set first (`SET NX` then XADD), an XADD failing mid-script would leave the
 * key behind and the retry would skip a record never stored. A script runs alone, so no other
 * client can slip in between the check and the append.
 */
const APPEND_ONCE = `
local ttl = ARGV[1]
local maxLen = tonumber(ARGV[2])
local at = 3
local added = 0
for i = 2, #KEYS do
  local n = tonumber(ARGV[at])
  if redis.call('EXISTS', KEYS[i]) == 0 then
    if maxLen > 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxLen, '*', unpack(ARGV, at + 1, at + n))
    else
      redis.call('XADD', KEYS[1], '*', unpack(ARGV, at + 1, at + n))
    end
    redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl)
    added = added + 1
  end
  at = at + 1 + n
end
return added
`;

interface AppendOnce {
  sluiceAppendOnce(numKeys: number, keys: string[], args: string[]): Promise<number>;
}

/**
 * Whether a Redis error is transient. Errors the server replied with are permanent unless they
 * name a passing state (OOM, BUSY, LOADING, failover); anything else is the connection's.
 */
export function isRetryableRedisError(error: unknown): boolean {
  if ((error as Error)?.name === 'ReplyError') return RETRY_REPLY.test((error as Error).message);
  return true;
}

/**
 * Appends each record to a Redis stream as the fields `id`, `key`, `source`, `ts` and `payload`
 * (JSON); absent fields are left out. A batch is one Lua script (loaded once, then called by
 * EVALSHA) that appends a record only if `<stream>:dedup:<id>` is absent, and then sets that key
 * with a TTL of `dedupTtlSeconds`: a batch rewritten within the TTL stores each record once.
 * The dedup keys and the stream are separate keys, so this runs against one Redis server, not a
 * cluster.
 *
 * A write that fails on the connection is retryable; the client reconnects in the background, and
 * a write waits through at most one reconnect attempt before failing. A connection that answers
 * nothing for timeoutMs while a write waits is taken for dead and replaced. The client library is
 * imported in open(), so workers whose pipeline uses another sink never load it.
 */
export class RedisStreamsSink implements Sink {
  readonly idempotent = true;
  readonly #options: ResolvedRedisStreamsSinkOptions;
  #redis: (Redis & AppendOnce) | undefined;
  /** The client reports connection failures as events; the last one explains a failed command. */
  #lastError: Error | undefined;

  /** `options` as resolved on the main thread. */
  constructor(options: ResolvedRedisStreamsSinkOptions) {
    this.#options = options;
  }

  async open(): Promise<void> {
    const { Redis } = await importOptional<typeof import('ioredis')>('ioredis', 'the redis-streams sink');
    const { url, timeoutMs } = this.#options;
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      // A connection whose server stops answering while a write waits (a peer gone half-open: a
      // host replaced behind its address, a NAT that forgot the flow) is dropped and a fresh one
      // made. The command timeout alone fails the write but keeps the dead connection, so every
      // retry would time out on it until the OS gives up on the socket, minutes later.
      socketTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
      retryStrategy: reconnectDelay,
    });
    // Without a listener the client prints every failed reconnect attempt to stderr.
    redis.on('error', (error: Error) => {
      this.#lastError = error;
    });
    redis.defineCommand('sluiceAppendOnce', { lua: APPEND_ONCE });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      const cause = this.#lastError ?? error;
      throw sinkFailure('redis-streams', `cannot connect to ${redactedUrl(url)}`, cause, {
        retryable: isRetryableRedisError(cause),
      });
    }
    this.#redis = redis as Redis & AppendOnce;
  }

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    const redis = requireOpen(this.#redis, 'redis-streams');
    const { stream, dedupTtlSeconds, maxLen } = this.#options;
    const keys = [stream];
    const args = [String(dedupTtlSeconds), String(maxLen ?? 0)];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      // A payload that cannot be encoded fails its record alone (payloadJsonOf's per-record error).
      const payload = payloadJsonOf(r);
      const fields = ['id', r.id];
      if (r.key !== undefined) fields.push('key', r.key);
      if (r.source !== undefined) fields.push('source', r.source);
      if (r.ts !== undefined) fields.push('ts', String(r.ts));
      fields.push('payload', payload);
      keys.push(`${stream}:dedup:${r.id}`);
      args.push(String(fields.length), ...fields);
    }
    try {
      await redis.sluiceAppendOnce(keys.length, keys, args);
    } catch (error) {
      const detail = this.#lastError && redis.status !== 'ready' ? ` (${this.#lastError.message})` : '';
      throw sinkFailure('redis-streams', `write to ${stream} failed`, error, {
        retryable: isRetryableRedisError(error),
        reason: `${messageOf(error)}${detail}`,
      });
    }
    return undefined;
  }

  async close(): Promise<void> {
    const redis = this.#redis;
    this.#redis = undefined;
    if (!redis) return;
    // QUIT lets the server finish what it was sent; a connection that is down is just dropped.
    if (redis.status === 'ready') await redis.quit().catch(() => {});
    redis.disconnect();
  }
}
