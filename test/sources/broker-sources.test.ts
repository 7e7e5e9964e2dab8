/**
 * The NATS JetStream and Redis Streams sources against the real servers, in process: every
 * message becomes one stored event (by id), is acknowledged only once stored, and a source that
 * stops before its events are stored leaves them with the broker for the next reader.
 */
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import type { Pipeline } from '../../src/engine/pipeline.js';
import { NatsJetStreamSource } from '../../src/sources/nats-jetstream-source.js';
import { RedisStreamsSource } from '../../src/sources/redis-streams-source.js';
import { createControl, RECORDS_STORED, WRITES_AT_GATE } from '../fixtures/engine/control.js';
import { nats, redis, uniqueName } from '../helpers/brokers.js';
import { fixtureUrl, openGate, pollUntil, type Scene, useScenes, waitForWord } from '../helpers/engine.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const scene = useScenes();
const N = 2000;

/** A pipeline of one worker into the fixture sink of scene `s`; `control` gates its writes. */
function onePipeline(s: Scene, control?: SharedArrayBuffer): Promise<Pipeline> {
  return s.pipeline({
    workers: { min: 1, max: 1 },
    sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions(control ? { control } : {}) },
  });
}

/** A pipeline of one worker into the fixture sink of scene `s`, with NDJSON dead letters. */
function withLetters(s: Scene, queue?: PipelineOptions['queue']): Promise<Pipeline> {
  return s.pipeline({
    workers: { min: 1, max: 1 },
    ...(queue ? { queue } : {}),
    sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
  });
}

/**
 * Runs `source` into a gated `pipeline` until it has read `count` messages, cuts the link to its
 * server, then stops and finishes it the way `sluice run` does; the drain's acks cannot reach the
 * server.
 */
async function readThenLoseServer(
  source: NatsJetStreamSource | RedisStreamsSource,
  pipeline: Pipeline,
  control: SharedArrayBuffer,
  proxy: FaultProxy,
  count: number,
): Promise<void> {
  const controller = new AbortController();
  const running = source.start(pipeline, controller.signal);
  await pollUntil(() => source.counts.received === count, `all ${count} read`);
  proxy.cut();
  controller.abort();
  await running;
  await source.stop();
  openGate(new Int32Array(control));
  await pipeline.close();
  await source.finish();
}

/** Runs `source` into `pipeline` until `check` holds, then stops both the way `sluice run` does. */
async function runUntil(
  source: NatsJetStreamSource | RedisStreamsSource,
  pipeline: Pipeline,
  check: () => boolean,
  what: string,
): Promise<void> {
  const controller = new AbortController();
  const running = source.start(pipeline, controller.signal);
  await pollUntil(check, what);
  controller.abort();
  await running;
  await source.stop();
  await pipeline.close();
  await source.finish();
}

/**
 * Runs `source` into `pipeline` until it has acknowledged `first` messages, then leaves its
 * connections half-open (silent, never closed; a new connection reaches the server), has `more`
 * messages published, and waits until every one is acknowledged; then stops both.
 */
async function readOnThroughHalfOpen(
  source: NatsJetStreamSource | RedisStreamsSource,
  pipeline: Pipeline,
  proxy: FaultProxy,
  first: number,
  more: () => Promise<unknown>,
  total: number,
): Promise<void> {
  const controller = new AbortController();
  const running = source.start(pipeline, controller.signal);
  try {
    await pollUntil(() => source.counts.acked === first, `${first} acks`);
    const acceptedBefore = proxy.counters.accepted;
    proxy.strandLive();
    await more();
    // Bounded well below the minutes a dead connection would otherwise last.
    await pollUntil(
      () => source.counts.acked === total,
      `${total} acks after the link went half-open`,
      45_000,
    );
    expect(proxy.counters.accepted).toBeGreaterThan(acceptedBefore);
  } finally {
    controller.abort();
    await running;
    await source.stop();
    await pipeline.close();
    await source.finish();
  }
}

nats.announce('nats-jetstream source');
describe.skipIf(nats.skip)('nats-jetstream source', () => {
  let nc: NatsConnection;
  const streams: string[] = [];
  beforeAll(async () => {
    nats.require();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  /** A new, empty stream on a new subject. */
  async function newStream(): Promise<{ stream: string; subject: string }> {
    const stream = uniqueName('S');
    const subject = uniqueName('sub');
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
    streams.push(stream);
    return { stream, subject };
  }

  /** A new stream on a new subject, holding `count` messages (`ev-<i>` ids when `withIds`). */
  async function publish(count: number, withIds: boolean): Promise<{ stream: string; subject: string }> {
    const { stream, subject } = await newStream();
    const js = nc.jetstream();
    const acks = [];
    for (let i = 0; i < count; i++) {
      const body = withIds ? { id: `ev-${i}`, n: i } : { n: i };
      acks.push(js.publish(`${subject}.x`, JSON.stringify(body)));
    }
    await Promise.all(acks);
    return { stream, subject };
  }

  it('stores every message once by id, acknowledges them all, and derives stable ids from the stream sequence', async () => {
    const s = scene();
    const { stream } = await publish(N, false);
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    });
    const source = new NatsJetStreamSource({ servers: nats.url, stream, durable: 'sluice', batch: 100 });
    await runUntil(source, pipeline, () => source.counts.acked >= N, `${N} acks`);

    const rows = s.rows();
    expect(rows.length).toBe(N);
    const expected = Array.from({ length: N }, (_, i) => `${stream}:${i + 1}`).sort();
    expect(rows.map((r) => r.id).sort()).toEqual(expected);
    expect(source.counts).toMatchObject({ received: N, acked: N, redelivered: 0 });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.consumers.info(stream, 'sluice');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
    expect(info.config.ack_policy).toBe(AckPolicy.Explicit);
  });

  it('holds at most maxAckPending while the sink is stalled, acknowledges none of them, and they are delivered again to the next reader', async () => {
    const s = scene();
    const { stream } = await publish(300, true);
    const control = createControl(false);
    const words = new Int32Array(control);
    const stalled = await onePipeline(s, control);
    const options = { servers: nats.url, stream, durable: 'sluice', batch: 50, ackWaitMs: 1000 };
    const first = new NatsJetStreamSource({ ...options, maxAckPending: 100 });
    const stopFirst = new AbortController();
    const running = first.start(stalled, stopFirst.signal);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    const jsm = await nc.jetstreamManager();
    // Backpressure reaches the broker: it hands out 100 and keeps the other 200.
    await pollUntil(async () => {
      const info = await jsm.consumers.info(stream, 'sluice');
      return info.num_ack_pending === 100 && info.num_pending === 200;
    }, 'the broker to hold back 200');
    expect(first.counts.received).toBe(100);
    expect(first.counts.acked).toBe(0);
    // The first reader goes away without its sink ever storing anything.
    stopFirst.abort();
    await running;
    await first.stop();
    await expect(stalled.close({ timeoutMs: 100 })).rejects.toThrow(/still in the ring/);
    await first.finish();
    expect(first.counts.acked).toBe(0);
    expect(Atomics.load(words, RECORDS_STORED)).toBe(0);
    openGate(words);

    const s2 = scene();
    const pipeline = await onePipeline(s2);
    const second = new NatsJetStreamSource(options);
    await runUntil(second, pipeline, () => second.counts.acked >= 300, '300 acks after redelivery');
    expect(second.counts.redelivered).toBe(100);
    const ids = s2
      .rows()
      .map((r) => r.id)
      .sort();
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => `ev-${i}`).sort());
  });

  it('dead-letters a message larger than queue.maxRecordBytes as too-large, acknowledges it, and stores every other one', async () => {
    const s = scene();
    const { stream, subject } = await newStream();
    const js = nc.jetstream();
    const big = JSON.stringify({ id: 'big', pad: 'x'.repeat(20_000) });
    for (let i = 0; i < 40; i++) {
      await js.publish(`${subject}.x`, JSON.stringify({ id: `ev-${i}`, n: i }));
      if (i === 10) await js.publish(`${subject}.x`, big);
    }
    const pipeline = await withLetters(s, { capacityBytes: 64 * 1024, maxRecordBytes: 16 * 1024 });
    const source = new NatsJetStreamSource({ servers: nats.url, stream, durable: 'sluice', batch: 16 });
    await runUntil(source, pipeline, () => source.counts.acked >= 41, '41 acks');

    expect(
      s
        .rows()
        .map((r) => r.id)
        .sort(),
    ).toEqual(Array.from({ length: 40 }, (_, i) => `ev-${i}`).sort());
    const letters = s.deadLetters();
    expect(letters).toHaveLength(1);
    const { letter } = letters[0]!;
    expect(letter.reason).toBe('too-large');
    // The message's stable id (stream sequence 12), its size and the limit, its first bytes.
    expect(letter.event.id).toBe(`${stream}:12`);
    const size = Number(/^(\d+) bytes exceed/.exec(letter.lastError)?.[1]);
    expect(size).toBeGreaterThan(Buffer.byteLength(big));
    expect(size).toBeLessThan(Buffer.byteLength(big) + 200);
    expect(letter.lastError).toContain('exceed queue.maxRecordBytes (16384)');
    expect(letter.event.raw).toBe(big.slice(0, 1024));
    expect(source.counts).toMatchObject({ received: 41, acked: 41, redelivered: 0 });
    const info = await (await nc.jetstreamManager()).consumers.info(stream, 'sluice');
    expect(info.num_ack_pending).toBe(0);
  });

  it('keeps messages apart whose Nats-Msg-Id differ only in bytes that are not UTF-8, and takes a message with a Nats-Msg-Id too long for an id', async () => {
    const s = scene();
    const { stream, subject } = await newStream();
    // Raw protocol: the client library only sends headers it can encode as UTF-8.
    const { hostname, port } = new URL(nats.url.replace(/^nats:/, 'http:'));
    const socket = createConnection(Number(port), hostname);
    await new Promise((resolve) => socket.once('data', resolve));
    socket.write('CONNECT {"verbose":false,"headers":true,"protocol":1}\r\n');
    const hpub = (id: Buffer, body: string) => {
      const head = Buffer.concat([Buffer.from('NATS/1.0\r\nNats-Msg-Id: '), id, Buffer.from('\r\n\r\n')]);
      const total = head.length + Buffer.byteLength(body);
      socket.write(
        Buffer.concat([
          Buffer.from(`HPUB ${subject}.x ${head.length} ${total}\r\n`),
          head,
          Buffer.from(`${body}\r\n`),
        ]),
      );
    };
    hpub(Buffer.from([0x61, 0xff]), '{"n":1}');
    hpub(Buffer.from([0x61, 0xfe]), '{"n":2}');
    hpub(Buffer.from('b'), '{"n":3}');
    // 300 bytes: more than an event id may hold; the message's own id is a good one.
    hpub(Buffer.from('L'.repeat(300)), '{"id":"own-id","n":4}');
    hpub(Buffer.from('M'.repeat(300)), '{"n":5}');
    socket.write('PING\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.end();
    const jsm = await nc.jetstreamManager();
    await pollUntil(async () => (await jsm.streams.info(stream)).state.messages === 5, '5 messages stored');

    const pipeline = await withLetters(s);
    const source = new NatsJetStreamSource({ servers: nats.url, stream, durable: 'sluice', batch: 16 });
    await runUntil(source, pipeline, () => source.counts.acked >= 5, '5 acks');

    const rows = s.rows();
    expect(rows.map((r) => (r.payload as { n: number }).n).sort()).toEqual([1, 2, 3, 4, 5]);
    const ids = new Map(rows.map((r) => [(r.payload as { n: number }).n, r.id]));
    expect([ids.get(1), ids.get(2)]).toEqual([`${stream}:1`, `${stream}:2`]);
    expect(ids.get(3)).toBe('b');
    expect(ids.get(4)).toBe('own-id');
    expect(ids.get(5)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(s.deadLetters()).toEqual([]);
    expect(source.counts).toMatchObject({ received: 5, acked: 5, redelivered: 0 });
  });

  it('reports its lag, what the durable has not acknowledged and what it holds, as the broker sees them', async () => {
    const s = scene();
    const { stream } = await publish(300, true);
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await onePipeline(s, control);
    const source = new NatsJetStreamSource({
      servers: nats.url,
      stream,
      durable: 'sluice',
      batch: 50,
      maxAckPending: 100,
    });
    expect(await source.health()).toBeUndefined();
    pipeline.watchSource(source, 50);
    const controller = new AbortController();
    const running = source.start(pipeline, controller.signal);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    // Stalled: 100 handed out and held here, 200 still waiting in the stream.
    await pollUntil(async () => (await source.health())?.waiting === 200, 'a lag of 200');
    expect(await source.health()).toMatchObject({
      source: 'nats-jetstream',
      waiting: 200,
      unacked: 100,
      held: 100,
    });
    await pollUntil(() => pipeline.liveStats().source?.waiting === 200, 'the pipeline to see the lag');
    const scrape = await pipeline.metrics.metrics();
    expect(scrape).toMatch(/^sluice_source_lag_messages\{source="nats-jetstream"\} 200$/m);
    expect(scrape).toMatch(/^sluice_source_unacked_messages\{source="nats-jetstream"\} 100$/m);
    expect(scrape).toMatch(/^sluice_source_held_messages\{source="nats-jetstream"\} 100$/m);
    openGate(words);
    await pollUntil(() => source.counts.acked >= 300, '300 acks');
    await pollUntil(async () => {
      const h = await source.health();
      return h?.waiting === 0 && h.unacked === 0 && h.held === 0;
    }, 'nothing waiting, unacknowledged or held');
    controller.abort();
    await running;
    await source.stop();
    await pipeline.close();
    await source.finish();
    expect(await source.health()).toBeUndefined();
  });

  it('needs an existing stream or subjects to create it, naming the field', async () => {
    const s = scene();
    const pipeline = await onePipeline(s);
    const missing = uniqueName('NOPE');
    const source = new NatsJetStreamSource({ servers: nats.url, stream: missing, durable: 'd' });
    await expect(source.start(pipeline, new AbortController().signal)).rejects.toThrow(
      new RegExp(`source\\.stream.*${missing}`),
    );
    await source.finish();
    expect(() => new NatsJetStreamSource({ stream: '', durable: 'd' })).toThrow(/source\.stream/);
  });

  it('keeps messages that wait in the ring longer than ackWaitMs in progress, so none is delivered twice', async () => {
    const s = scene();
    const { stream } = await publish(200, true);
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await onePipeline(s, control);
    const source = new NatsJetStreamSource({ servers: nats.url, stream, durable: 'd', ackWaitMs: 1500 });
    const stop = new AbortController();
    const running = source.start(pipeline, stop.signal);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await pollUntil(() => source.counts.received === 200, 'all 200 received');
    // Held past two ack waits: without in-progress acks the server would deliver all 200 again.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    openGate(words);
    await pollUntil(() => source.counts.acked === 200, '200 acks');
    stop.abort();
    await running;
    await source.stop();
    await pipeline.close();
    await source.finish();
    expect(source.counts).toMatchObject({ received: 200, acked: 200, redelivered: 0 });
    expect(s.rows()).toHaveLength(200);
  });

  it('stops, and finishes, while NATS is unreachable, leaving what it held unacknowledged', async () => {
    const s = scene();
    const { stream } = await publish(200, true);
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: Number(new URL(nats.url).port || 4222) });
    try {
      const control = createControl(false);
      const pipeline = await onePipeline(s, control);
      const source = new NatsJetStreamSource({
        servers: `nats://127.0.0.1:${proxy.port}`,
        stream,
        durable: 'd',
      });
      await readThenLoseServer(source, pipeline, control, proxy, 200);
    } finally {
      await proxy.close();
    }
    const jsm = await nc.jetstreamManager();
    const info = await jsm.consumers.info(stream, 'd');
    // Nothing was acknowledged: the 200 are pending or back for redelivery, none acked.
    expect(info.ack_floor.stream_seq).toBe(0);
  });

  it('reads on over a fresh connection when its connection goes half-open, and stores and acknowledges every message', async () => {
    const s = scene();
    const { stream, subject } = await newStream();
    const js = nc.jetstream();
    const publishIds = (from: number, count: number) =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          js.publish(`${subject}.x`, JSON.stringify({ id: `ev-${from + i}`, n: from + i })),
        ),
      );
    await publishIds(0, 100);
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: Number(new URL(nats.url).port || 4222) });
    try {
      const pipeline = await onePipeline(s);
      const source = new NatsJetStreamSource({
        servers: `nats://127.0.0.1:${proxy.port}`,
        stream,
        durable: 'd',
      });
      await readOnThroughHalfOpen(source, pipeline, proxy, 100, () => publishIds(100, 100), 200);
    } finally {
      await proxy.close();
    }
    const ids = new Set(s.rows().map((r) => r.id));
    expect(ids.size).toBe(200);
    expect([...ids].sort()).toEqual(Array.from({ length: 200 }, (_, i) => `ev-${i}`).sort());
  });

  it('refuses an existing durable without explicit acks, naming the field, and leaves it as it was', async () => {
    const s = scene();
    const { stream } = await publish(1, true);
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(stream, { durable_name: 'all', ack_policy: AckPolicy.All, max_ack_pending: 7 });
    const pipeline = await onePipeline(s);
    const source = new NatsJetStreamSource({ servers: nats.url, stream, durable: 'all', maxAckPending: 100 });
    await expect(source.start(pipeline, new AbortController().signal)).rejects.toThrow(
      /source\.durable must be a pull consumer with explicit acks \(this one is ack_policy all\).*got "all"/,
    );
    await source.finish();
    expect((await jsm.consumers.info(stream, 'all')).config.max_ack_pending).toBe(7);
  });

  it('refuses a filterSubject that differs from the existing durable’s, naming the field', async () => {
    const s = scene();
    const { stream, subject } = await publish(1, true);
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(stream, {
      durable_name: 'd',
      ack_policy: AckPolicy.Explicit,
      filter_subject: `${subject}.x`,
    });
    const pipeline = await onePipeline(s);
    const source = new NatsJetStreamSource({
      servers: nats.url,
      stream,
      durable: 'd',
      filterSubject: `${subject}.y`,
    });
    await expect(source.start(pipeline, new AbortController().signal)).rejects.toThrow(
      /source\.filterSubject/,
    );
    await source.finish();
  });

  it('an unreachable server fails start() with a SourceError naming the server', async () => {
    const s = scene();
    const pipeline = await onePipeline(s);
    const source = new NatsJetStreamSource({ servers: 'nats://127.0.0.1:1', stream: 'S', durable: 'd' });
    await expect(source.start(pipeline, new AbortController().signal)).rejects.toMatchObject({
      code: 'SLUICE_SOURCE_ERROR',
      message: expect.stringMatching(/cannot connect to nats:\/\/127\.0\.0\.1:1/),
    });
    await source.finish();
  });
});

redis.announce('redis-streams source');
describe.skipIf(redis.skip)('redis-streams source', () => {
  let client: Redis;
  const keys: string[] = [];
  beforeAll(() => {
    redis.require();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  /** Consumer c1 of group g on `stream`, reading 8 at a time. */
  const groupReader = (stream: string) =>
    new RedisStreamsSource({ url: redis.url, stream, group: 'g', consumer: 'c1', batch: 8, blockMs: 100 });

  async function publish(stream: string, count: number): Promise<string[]> {
    keys.push(stream);
    const pipeline = client.pipeline();
    for (let i = 0; i < count; i++) pipeline.xadd(stream, '*', 'data', JSON.stringify({ n: i }));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, id]) => {
      if (error) throw error;
      return id as string;
    });
  }

  it('stores every entry once by id, XACKs them all, and reads a restarted consumer’s own pending entries first', async () => {
    const stream = uniqueName('st');
    const entryIds = await publish(stream, N);
    // An earlier run of consumer "c1" read 100 entries and died before acknowledging them.
    await client.xgroup('CREATE', stream, 'g', '0');
    await client.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 100, 'STREAMS', stream, '>');
    expect((await client.xpending(stream, 'g'))[0]).toBe(100);

    const s = scene();
    // One worker: batches are stored in ring order, so the first stored are the first pushed.
    const pipeline = await onePipeline(s);
    const source = new RedisStreamsSource({
      url: redis.url,
      stream,
      group: 'g',
      consumer: 'c1',
      batch: 128,
      blockMs: 100,
    });
    await runUntil(source, pipeline, () => source.counts.acked >= N, `${N} acks`);

    const rows = s.rows();
    expect(rows.length).toBe(N);
    expect(rows.map((r) => r.id).sort()).toEqual(entryIds.map((id) => `${stream}:${id}`).sort());
    // The pending 100 were read first: they are the first 100 stored.
    expect(
      rows
        .slice(0, 100)
        .map((r) => r.id)
        .sort(),
    ).toEqual(
      entryIds
        .slice(0, 100)
        .map((id) => `${stream}:${id}`)
        .sort(),
    );
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });

  it('dead-letters an entry larger than queue.maxRecordBytes as too-large, XACKs it, and stores every other one', async () => {
    const stream = uniqueName('st');
    keys.push(stream);
    const big = JSON.stringify({ pad: 'y'.repeat(20_000) });
    const ids: string[] = [];
    let bigId = '';
    for (let i = 0; i < 24; i++) {
      ids.push((await client.xadd(stream, '*', 'data', JSON.stringify({ n: i }))) as string);
      if (i === 5) bigId = (await client.xadd(stream, '*', 'data', big)) as string;
    }
    const s = scene();
    const pipeline = await withLetters(s, { capacityBytes: 64 * 1024, maxRecordBytes: 16 * 1024 });
    const source = groupReader(stream);
    await runUntil(source, pipeline, () => source.counts.acked >= 25, '25 acks');

    expect(
      s
        .rows()
        .map((r) => r.id)
        .sort(),
    ).toEqual(ids.map((id) => `${stream}:${id}`).sort());
    const letters = s.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]!.letter.reason).toBe('too-large');
    expect(letters[0]!.letter.event.id).toBe(`${stream}:${bigId}`);
    expect(letters[0]!.letter.event.raw).toBe(big.slice(0, 1024));
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });

  it('passes entries on as their bytes: ids that are not UTF-8 are dead-lettered, not merged into one U+FFFD id', async () => {
    const stream = uniqueName('st');
    keys.push(stream);
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    await client.xadd(stream, '*', 'data', bytes('{"id":"u', [0xff], '"}'));
    await client.xadd(stream, '*', 'data', bytes('{"id":"u', [0xfe], '"}'));
    await client.xadd(stream, '*', 'data', '{"id":"ok-1","s":"é"}');
    // No `data` field: the entry's fields as one object — a value that is not UTF-8 keeps its bytes.
    await client.xadd(stream, '*', 'id', bytes('v', [0xfd]), 'n', '1');
    await client.xadd(stream, '*', 'id', 'ok-2', 'q', 'a"b\\c\n');
    const s = scene();
    const pipeline = await withLetters(s);
    const source = groupReader(stream);
    await runUntil(source, pipeline, () => source.counts.acked >= 5, '5 acks');

    const rows = s.rows();
    expect(rows.map((r) => [r.id, r.payload])).toEqual([
      ['ok-1', { id: 'ok-1', s: 'é' }],
      ['ok-2', { id: 'ok-2', q: 'a"b\\c\n' }],
    ]);
    const letters = s.deadLetters();
    expect(letters.map((l) => l.letter.reason)).toEqual(['invalid-event', 'invalid-event', 'invalid-event']);
    for (const l of letters) expect(l.letter.lastError).toContain('UTF-8');
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });

  it('takes the entries of a stream whose key makes <stream>:<entry id> too long for an id', async () => {
    // A legal key of 245 bytes: the fallback id would be 260 or so, past the 255 an id may hold.
    const stream = `${uniqueName('st')}-${'k'.repeat(220)}`.slice(0, 245);
    keys.push(stream);
    await client.xadd(stream, '*', 'data', '{"id":"own-1","n":1}');
    await client.xadd(stream, '*', 'data', '{"n":2}');
    await client.xadd(stream, '*', 'data', '{"n":3}');
    const s = scene();
    const pipeline = await withLetters(s);
    const source = groupReader(stream);
    await runUntil(source, pipeline, () => source.counts.acked >= 3, '3 acks');

    const rows = s.rows();
    expect(rows.map((r) => (r.payload as { n: number }).n).sort()).toEqual([1, 2, 3]);
    const ids = rows.map((r) => r.id);
    expect(ids[0]).toBe('own-1');
    expect(ids.slice(1).every((id) => /^sha256:[0-9a-f]{64}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(3);
    expect(s.deadLetters()).toEqual([]);
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });

  it('reports its group’s lag, what the group has not acknowledged and what it holds, as Redis sees them', async () => {
    const stream = uniqueName('st');
    await publish(stream, 300);
    const s = scene();
    const control = createControl(false);
    const words = new Int32Array(control);
    const pipeline = await onePipeline(s, control);
    const source = new RedisStreamsSource({
      url: redis.url,
      stream,
      group: 'g',
      consumer: 'c1',
      batch: 50,
      maxPending: 100,
      blockMs: 100,
    });
    pipeline.watchSource(source, 50);
    const controller = new AbortController();
    const running = source.start(pipeline, controller.signal);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await pollUntil(async () => (await source.health())?.held === 100, '100 held');
    expect(await source.health()).toMatchObject({
      source: 'redis-streams',
      waiting: 200,
      unacked: 100,
      held: 100,
    });
    await pollUntil(
      () => pipeline.liveStats().source?.unacked === 100,
      'the pipeline to see the pending entries',
    );
    expect(await pipeline.metrics.metrics()).toMatch(
      /^sluice_source_lag_messages\{source="redis-streams"\} 200$/m,
    );
    openGate(words);
    await pollUntil(() => source.counts.acked >= 300, '300 acks');
    await pollUntil(async () => {
      const h = await source.health();
      return h?.waiting === 0 && h.unacked === 0 && h.held === 0;
    }, 'nothing waiting, pending or held');
    controller.abort();
    await running;
    await source.stop();
    await pipeline.close();
    await source.finish();
  });

  it('an unreachable server fails start() with a SourceError naming the server and the cause, without the password', async () => {
    const s = scene();
    const pipeline = await onePipeline(s);
    const source = new RedisStreamsSource({
      url: 'redis://user:secret@127.0.0.1:1',
      stream: 's',
      group: 'g',
    });
    const failure = source.start(pipeline, new AbortController().signal);
    await expect(failure).rejects.toMatchObject({
      code: 'SLUICE_SOURCE_ERROR',
      message: expect.stringMatching(/cannot connect to redis:\/\/user:\*\*\*@127\.0\.0\.1:1.*ECONNREFUSED/),
    });
    await expect(failure).rejects.not.toThrow(/secret/);
    await source.finish();
  });

  it('acknowledges, and skips, a pending entry deleted from the stream since it was read', async () => {
    const stream = uniqueName('st');
    const entryIds = await publish(stream, 50);
    await client.xgroup('CREATE', stream, 'g', '0');
    await client.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
    await client.xdel(stream, entryIds[3]!);
    const s = scene();
    const pipeline = await onePipeline(s);
    const source = new RedisStreamsSource({
      url: redis.url,
      stream,
      group: 'g',
      consumer: 'c1',
      blockMs: 100,
    });
    await runUntil(source, pipeline, () => source.counts.acked >= 49, '49 acks');
    const expected = entryIds.filter((_, i) => i !== 3).map((id) => `${stream}:${id}`);
    expect(
      s
        .rows()
        .map((r) => r.id)
        .sort(),
    ).toEqual(expected.sort());
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });

  it('stops, and finishes, while Redis is unreachable, leaving what it held pending', async () => {
    const stream = uniqueName('st');
    await publish(stream, 300);
    const proxy = await FaultProxy.start({
      host: '127.0.0.1',
      port: Number(new URL(redis.url).port || 6379),
    });
    try {
      const s = scene();
      const control = createControl(false);
      const pipeline = await onePipeline(s, control);
      const source = new RedisStreamsSource({
        url: `redis://127.0.0.1:${proxy.port}`,
        stream,
        group: 'g',
        consumer: 'c',
        blockMs: 100,
      });
      // The acks the drain made due fail (Redis is unreachable) after the command timeout.
      await readThenLoseServer(source, pipeline, control, proxy, 300);
      expect(source.counts.acked).toBe(0);
    } finally {
      await proxy.close();
    }
    expect((await client.xpending(stream, 'g'))[0]).toBe(300);
  });

  it('reads on over fresh connections when its connections go half-open, and stores and acknowledges every entry', async () => {
    const stream = uniqueName('st');
    const entryIds = await publish(stream, 100);
    const proxy = await FaultProxy.start({
      host: '127.0.0.1',
      port: Number(new URL(redis.url).port || 6379),
    });
    try {
      const s = scene();
      const pipeline = await onePipeline(s);
      const source = new RedisStreamsSource({
        url: `redis://127.0.0.1:${proxy.port}`,
        stream,
        group: 'g',
        consumer: 'c',
        blockMs: 100,
      });
      await readOnThroughHalfOpen(
        source,
        pipeline,
        proxy,
        100,
        async () => entryIds.push(...(await publish(stream, 100))),
        200,
      );
      const ids = new Set(s.rows().map((r) => r.id));
      expect([...ids].sort()).toEqual(entryIds.map((id) => `${stream}:${id}`).sort());
    } finally {
      await proxy.close();
    }
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });

  it('claims entries a dead consumer left pending past claimIdleMs', async () => {
    const stream = uniqueName('st');
    const entryIds = await publish(stream, 500);
    await client.xgroup('CREATE', stream, 'g', '0');
    // "dead" read 200 entries and will never come back.
    await client.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 200, 'STREAMS', stream, '>');

    const s = scene();
    const pipeline = await onePipeline(s);
    const source = new RedisStreamsSource({
      url: redis.url,
      stream,
      group: 'g',
      consumer: 'alive',
      blockMs: 100,
      claimIdleMs: 300,
    });
    await runUntil(source, pipeline, () => source.counts.acked >= 500, '500 acks');
    expect(source.counts.claimed).toBe(200);
    expect(
      s
        .rows()
        .map((r) => r.id)
        .sort(),
    ).toEqual(entryIds.map((id) => `${stream}:${id}`).sort());
    expect((await client.xpending(stream, 'g'))[0]).toBe(0);
  });
});
