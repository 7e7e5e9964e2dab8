import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStreamsSink, type RedisStreamsSinkOptions } from '../../src/sinks/redis-streams-sink.js';
import type { SinkRecord } from '../../src/sinks/sink.js';
import { resolveSinkSpec } from '../../src/sinks/sink-spec.js';
import { REDIS_URL, redis, uniqueName } from '../helpers/brokers.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { complianceBatch, runSinkCompliance } from '../helpers/sink-compliance.js';

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
  return new RedisStreamsSink({ url: REDIS_URL, stream, ...options });
}

/** A fault proxy in front of the server, which a test can cut and restore as a broker restart would. */
function proxyToServer(): Promise<FaultProxy> {
  const target = new URL(REDIS_URL);
  return FaultProxy.start({ host: target.hostname, port: Number(target.port) });
}

/** Writes until a write succeeds, as the delivery layer's retries would; returns the failures. */
async function writeUntilStored(sink: RedisStreamsSink, batch: SinkRecord[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await sink.write(batch);
      return failures;
    } catch (error) {
      failures.push(error);
      if (Date.now() > deadline) throw error;
    }
  }
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
    const sinks: RedisStreamsSink[] = [];
    afterEach(async () => {
      await Promise.all(sinks.splice(0).map((s) => s.close()));
    });

    async function open(options: Partial<RedisStreamsSinkOptions> = {}): Promise<RedisStreamsSink> {
      const sink = sinkFor(options);
      sinks.push(sink);
      await sink.open();
      return sink;
    }

    it('stores a batch written twice, by two sinks as two workers would, once per id', async () => {
      const [first, second] = [await open(), await open()];
      const batch = complianceBatch(25, 'two-workers');
      await Promise.all([first.write(batch), second.write(batch)]);
      await first.write(batch);
      const ids = new Set(batch.map((r) => r.id));
      const stored = (await readIds()).filter((id) => ids.has(id));
      expect(stored.sort()).toEqual([...ids].sort());
    });

    it('stores a batch of 5000 records, each once', async () => {
      const name = uniqueName('sluice_sink_large');
      streams.add(name);
      const sink = await open({ stream: name });
      const batch = complianceBatch(5000, 'large');
      await sink.write(batch);
      expect(await readIds(name)).toEqual(batch.map((r) => r.id));
    });

    it('stores a record whose id appears twice in one batch once', async () => {
      const sink = await open();
      const [a, b] = complianceBatch(2, 'repeat');
      await sink.write([a!, b!, a!]);
      expect((await readIds()).filter((id) => id === a!.id || id === b!.id).sort()).toEqual(
        [a!.id, b!.id].sort(),
      );
    });

    it('appends each record with its id, key, source, ts and JSON payload as fields, leaving out absent ones', async () => {
      const name = uniqueName('sluice_sink_fields');
      streams.add(name);
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
      const name = uniqueName('sluice_sink_ttl');
      streams.add(name);
      const sink = await open({ stream: name, dedupTtlSeconds: 600 });
      const [record] = complianceBatch(1, 'ttl');
      await sink.write([record!]);
      const ttl = await client.ttl(`${name}:dedup:${record!.id}`);
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
    });

    it('stores a record again once its dedup key has expired', async () => {
      const name = uniqueName('sluice_sink_expired');
      streams.add(name);
      const sink = await open({ stream: name });
      const [record] = complianceBatch(1, 'expired');
      await sink.write([record!]);
      // What expiry does, without waiting for it.
      await client.del(`${name}:dedup:${record!.id}`);
      await sink.write([record!]);
      expect(await readIds(name)).toEqual([record!.id, record!.id]);
    });

    it('trims the stream to about maxLen entries', async () => {
      const name = uniqueName('sluice_sink_trim');
      streams.add(name);
      const sink = await open({ stream: name, maxLen: 10 });
      for (let i = 0; i < 5; i++) await sink.write(complianceBatch(200, 'trim'));
      const length = await client.xlen(name);
      // `MAXLEN ~` trims whole radix-tree nodes (100 entries by default), so it keeps a little more.
      expect(length).toBeLessThan(1000);
      expect(length).toBeGreaterThanOrEqual(10);
    });

    it('rejects a write permanently when the stream key holds another type, and stores nothing', async () => {
      const name = uniqueName('sluice_sink_wrongtype');
      streams.add(name);
      await client.set(name, 'not a stream');
      const sink = await open({ stream: name });
      const batch = complianceBatch(3, 'wrongtype');
      await expect(sink.write(batch)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
      // The failed XADD left no dedup key behind: once the key is a stream again, the batch stores.
      await client.del(name);
      await sink.write(batch);
      expect(await readIds(name)).toEqual(batch.map((r) => r.id));
    });

    it('fails an open against an unreachable server at once with a retryable SinkError, not after its timeout', async () => {
      const sink = sinkFor({ url: 'redis://127.0.0.1:1', timeoutMs: 20_000 });
      sinks.push(sink);
      const started = Date.now();
      const error = await sink.open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
      expect((error as Error).message).toContain('ECONNREFUSED');
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it('leaves out the password when it names the server it cannot reach', async () => {
      const sink = sinkFor({ url: 'redis://user:hunter2@127.0.0.1:1' });
      sinks.push(sink);
      const error = await sink.open().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toContain('redis://user:***@127.0.0.1:1');
      expect(error?.message).not.toContain('hunter2');
    });

    it('fails writes retryably while the connection is cut, and stores again once the server is back, without reopening', async () => {
      const proxy = await proxyToServer();
      try {
        const sink = await open({ url: `redis://127.0.0.1:${proxy.port}`, timeoutMs: 500 });
        proxy.cut();
        expect(proxy.counters.cut).toBeGreaterThan(0);
        const acceptedAtCut = proxy.counters.accepted;
        const lost = complianceBatch(5, 'cut');
        await expect(sink.write(lost)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
        proxy.restore();
        const failures = await writeUntilStored(sink, lost);
        expect(failures.every((e) => (e as { retryable?: boolean }).retryable === true)).toBe(true);
        // The client connected again through the proxy on its own: the sink was not reopened.
        expect(proxy.counters.accepted).toBeGreaterThan(acceptedAtCut);
        const counts = new Map<string, number>();
        for (const id of await readIds()) counts.set(id, (counts.get(id) ?? 0) + 1);
        expect(lost.map((r) => counts.get(r.id))).toEqual(lost.map(() => 1));
      } finally {
        await proxy.close();
      }
    });

    it('closes while the server is unreachable without hanging', async () => {
      const proxy = await proxyToServer();
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

describe('redis-streams sink options', () => {
  const valid = { type: 'redis-streams', stream: 'events' } as const;

  it('are accepted with only a stream, the rest defaulted', () => {
    expect(resolveSinkSpec(valid, 'sink')).toEqual(valid);
    expect(() => new RedisStreamsSink(valid)).not.toThrow();
  });

  it.each([
    ['sink.stream', { stream: undefined }, 'got undefined'],
    ['sink.stream', { stream: '' }, 'got ""'],
    ['sink.url', { url: 'http://127.0.0.1:6379' }, 'got "http://127.0.0.1:6379"'],
    ['sink.dedupTtlSeconds', { dedupTtlSeconds: 0 }, 'got 0'],
    ['sink.maxLen', { maxLen: 2.5 }, 'got 2.5'],
    ['sink.timeoutMs', { timeoutMs: -1 }, 'got -1'],
  ])('name %s and quote the value when it is wrong (%j)', (field, override, got) => {
    const spec = { ...valid, ...override } as RedisStreamsSinkOptions & { type: 'redis-streams' };
    for (const attempt of [() => resolveSinkSpec(spec, 'sink'), () => new RedisStreamsSink(spec)]) {
      const error = thrownBy(attempt);
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_OPTION' });
      expect(error.message.startsWith(`${field} must be `), error.message).toBe(true);
      expect(error.message.endsWith(`, ${got}`), error.message).toBe(true);
    }
  });

  it('name the dead-letter field when the spec is the dead-letter sink', () => {
    expect(() => resolveSinkSpec({ ...valid, stream: '' }, 'deadLetter')).toThrow(
      /^deadLetter\.stream must be/,
    );
  });
});

function thrownBy(attempt: () => unknown): Error {
  try {
    attempt();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
