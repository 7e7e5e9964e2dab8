import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { RedisStreamsSink, type RedisStreamsSinkOptions } from '../../src/sinks/redis-streams-sink.js';
import { REDIS_URL, redis, uniqueName } from '../helpers/brokers.js';
import {
  brokerSinkCases,
  complianceBatch,
  proxyTo,
  runSinkCompliance,
  sinkOptionCases,
  sinksClosedAfterEach,
} from '../helpers/sink-compliance.js';

redis.announce('redis-streams-sink');

const stream = uniqueName('sluice_sink');
/** Streams this file writes to; they and their dedup keys are deleted afterwards. */
const streams = new Set([stream]);

let client: Redis;

/** Every entry of a stream as a field → value object, read through a connection of its own. */
async function readEntries(name = stream): Promise<Record<string, string>[]> {
  const entries = await client.xrange(name, '-', '+');
  return entries.map(([, fields]) => {
    const entry: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
    return entry;
  });
}

async function readIds(name = stream): Promise<string[]> {
  return (await readEntries(name)).map((entry) => entry.id!);
}

async function deleteStream(name: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${name}:dedup:*`, 'COUNT', 1000);
    if (keys.length > 0) await client.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  await client.unlink(name);
}

function sinkFor(options: Partial<RedisStreamsSinkOptions> = {}): RedisStreamsSink {
  return new RedisStreamsSink(resolveSinkSpec({ type: 'redis-streams', url: REDIS_URL, stream, ...options }));
}

/** A stream name no other test uses (`label` tells them apart), deleted with its dedup keys afterwards. */
function freshStream(label: string): string {
  const name = uniqueName(`sluice_sink_${label}`);
  streams.add(name);
  return name;
}

describe.skipIf(redis.skip)('RedisStreamsSink against a real server', () => {
  beforeAll(async () => {
    redis.require();
    client = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const name of streams) await deleteStream(name);
    await client?.quit();
  });

  runSinkCompliance(
    () => sinkFor(),
    () => readIds(),
    {
      name: 'Redis Streams',
      failures: [
        {
          description: 'the server is unreachable',
          failsAt: 'open',
          makeSink: () => sinkFor({ url: 'redis://127.0.0.1:1' }),
        },
      ],
    },
  );

  describe('RedisStreamsSink', () => {
    const sinks = sinksClosedAfterEach(sinkFor);
    const open = sinks.open;

    brokerSinkCases({
      sinks,
      readIds: () => readIds(),
      freshTarget(label) {
        const name = freshStream(label);
        return { options: { stream: name }, readIds: () => readIds(name) };
      },
      keepsBatchOrder: true,
      serverUrl: REDIS_URL,
      at: (url) => ({ url }),
      unreachableSays: ['ECONNREFUSED'],
    });

    it('appends each record with its id, key, source, ts and JSON payload as fields, leaving out absent ones', async () => {
      const name = freshStream('fields');
      const sink = await open({ stream: name });
      const [full] = complianceBatch(1, 'fields');
      const bare: SinkRecord = { id: `${full!.id}-bare`, payload: [1, 'two'] };
      await sink.write([full!, bare]);
      expect(await readEntries(name)).toEqual([
        {
          id: full!.id,
          key: full!.key,
          source: full!.source,
          ts: String(full!.ts),
          payload: JSON.stringify(full!.payload),
        },
        { id: bare.id, payload: '[1,"two"]' },
      ]);
    });

    it('remembers each id for dedupTtlSeconds under <stream>:dedup:<id>', async () => {
      const name = freshStream('ttl');
      const sink = await open({ stream: name, dedupTtlSeconds: 600 });
      const [record] = complianceBatch(1, 'ttl');
      await sink.write([record!]);
      const ttl = await client.ttl(`${name}:dedup:${record!.id}`);
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
    });

    it('stores a record again once its dedup key has expired', async () => {
      const name = freshStream('expired');
      const sink = await open({ stream: name });
      const [record] = complianceBatch(1, 'expired');
      await sink.write([record!]);
      // What expiry does, without waiting for it.
      await client.del(`${name}:dedup:${record!.id}`);
      await sink.write([record!]);
      expect(await readIds(name)).toEqual([record!.id, record!.id]);
    });

    it('trims the stream to about maxLen entries', async () => {
      const name = freshStream('trim');
      const sink = await open({ stream: name, maxLen: 10 });
      for (let i = 0; i < 5; i++) await sink.write(complianceBatch(200, 'trim'));
      const length = await client.xlen(name);
      // `MAXLEN ~` trims whole radix-tree nodes (100 entries by default), so it keeps a little more.
      expect(length).toBeLessThan(1000);
      expect(length).toBeGreaterThanOrEqual(10);
    });

    it('rejects a write permanently when the stream key holds another type, and stores nothing', async () => {
      const name = freshStream('wrongtype');
      await client.set(name, 'not a stream');
      const sink = await open({ stream: name });
      const batch = complianceBatch(3, 'wrongtype');
      await expect(sink.write(batch)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
      // The failed XADD left no dedup key behind: once the key is a stream again, the batch stores.
      await client.del(name);
      await sink.write(batch);
      expect(await readIds(name)).toEqual(batch.map((r) => r.id));
    });

    it('leaves out the password when it names the server it cannot reach', async () => {
      const sink = sinks.make({ url: 'redis://user:hunter2@127.0.0.1:1' });
      const error = await sink.open().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toContain('redis://user:***@127.0.0.1:1');
      expect(error?.message).not.toContain('hunter2');
    });

    it('closes while the server is unreachable without hanging', async () => {
      const proxy = await proxyTo(REDIS_URL);
      try {
        const sink = await open({ url: `redis://127.0.0.1:${proxy.port}` });
        proxy.cut();
        expect(proxy.counters.cut).toBeGreaterThan(0);
        await expect(sink.close()).resolves.toBeUndefined();
      } finally {
        await proxy.close();
      }
    });
  });
});

sinkOptionCases({
  valid: { type: 'redis-streams', stream: 'events' },
  required: 'stream',
  resolved: {
    type: 'redis-streams',
    stream: 'events',
    url: 'redis://127.0.0.1:6379',
    dedupTtlSeconds: 86_400,
    maxLen: undefined,
    timeoutMs: 5000,
  },
  construct: (spec) => new RedisStreamsSink(spec),
  invalid: [
    ['sink.stream', { stream: undefined }, 'got undefined'],
    ['sink.stream', { stream: '' }, 'got ""'],
    ['sink.url', { url: 'http://127.0.0.1:6379' }, 'got "http://127.0.0.1:6379"'],
    ['sink.dedupTtlSeconds', { dedupTtlSeconds: 0 }, 'got 0'],
    ['sink.maxLen', { maxLen: 2.5 }, 'got 2.5'],
    ['sink.timeoutMs', { timeoutMs: -1 }, 'got -1'],
  ],
});
