import { connect, type JetStreamManager, type NatsConnection, nanos } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NatsJetStreamSink, type NatsJetStreamSinkOptions } from '../../src/sinks/nats-jetstream-sink.js';
import type { SinkRecord } from '../../src/sinks/sink.js';
import { resolveSinkSpec } from '../../src/sinks/sink-spec.js';
import { NATS_URL, nats, uniqueName } from '../helpers/brokers.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { complianceBatch, runSinkCompliance } from '../helpers/sink-compliance.js';

nats.announce('nats-jetstream-sink');

const stream = uniqueName('SLUICE_SINK');
const subject = uniqueName('sluice_sink');
/** Streams this file creates, deleted afterwards. */
const streams = new Set([stream]);

let nc: NatsConnection;
let jsm: JetStreamManager;

/** Every record id stored in a stream, read message by message through a connection of its own. */
async function readIds(name = stream): Promise<string[]> {
  const info = await jsm.streams.info(name).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const seqs: number[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) seqs.push(seq);
  const messages = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(name, { seq })));
  return messages.map((m) => m.json<{ id: string }>().id);
}

function sinkFor(options: Partial<NatsJetStreamSinkOptions> = {}): NatsJetStreamSink {
  return new NatsJetStreamSink({ servers: NATS_URL, subject, stream, ...options });
}

/** A fault proxy in front of the server, which a test can cut and restore as a broker restart would. */
function proxyToServer(): Promise<FaultProxy> {
  const target = new URL(NATS_URL);
  return FaultProxy.start({ host: target.hostname, port: Number(target.port) });
}

/** Writes until a write succeeds, as the delivery layer's retries would; returns the failures. */
async function writeUntilStored(sink: NatsJetStreamSink, batch: SinkRecord[]): Promise<unknown[]> {
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

describe.skipIf(nats.skip)('NatsJetStreamSink against a real server', () => {
  beforeAll(async () => {
    nats.require();
    nc = await connect({ servers: NATS_URL });
    jsm = await nc.jetstreamManager();
  });
  afterAll(async () => {
    for (const name of streams) await jsm?.streams.delete(name).catch(() => {});
    await nc?.close();
  });

  runSinkCompliance(() => sinkFor(), readIds, {
    name: 'NATS JetStream',
    failures: [
      {
        description: 'the server is unreachable',
        failsAt: 'open',
        makeSink: () => sinkFor({ servers: 'nats://127.0.0.1:1' }),
      },
      {
        description: 'the stream is deleted, so no stream answers the publish',
        makeSink: () => sinkFor(),
        async breakIt() {
          await jsm.streams.delete(stream);
        },
        async repair() {
          await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: nanos(120_000) });
        },
      },
    ],
  });

  describe('NatsJetStreamSink', () => {
    const sinks: NatsJetStreamSink[] = [];
    afterEach(async () => {
      await Promise.all(sinks.splice(0).map((s) => s.close()));
    });

    async function open(options: Partial<NatsJetStreamSinkOptions> = {}): Promise<NatsJetStreamSink> {
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
      const name = uniqueName('SLUICE_SINK_LARGE');
      streams.add(name);
      const sink = await open({ stream: name, subject: uniqueName('sluice_sink_large') });
      const batch = complianceBatch(5000, 'large');
      await sink.write(batch);
      expect((await readIds(name)).sort()).toEqual(batch.map((r) => r.id).sort());
    });

    it('stores a record whose id appears twice in one batch once', async () => {
      const sink = await open();
      const [a, b] = complianceBatch(2, 'repeat');
      await sink.write([a!, b!, a!]);
      expect((await readIds()).filter((id) => id === a!.id || id === b!.id).sort()).toEqual(
        [a!.id, b!.id].sort(),
      );
    });

    it('publishes each record as the JSON of its id, key, source, ts and payload, with its id as message id', async () => {
      const sink = await open();
      const [record] = complianceBatch(1, 'fields');
      await sink.write([record!]);
      const last = (await jsm.streams.info(stream)).state.last_seq;
      const message = await jsm.streams.getMessage(stream, { seq: last });
      expect(message.subject).toBe(subject);
      expect(message.header.get('Nats-Msg-Id')).toBe(record!.id);
      expect(message.json()).toEqual(record);
    });

    it('creates a missing stream capturing the subject, with the duplicate window asked for', async () => {
      const name = uniqueName('SLUICE_SINK_NEW');
      const own = uniqueName('sluice_sink_new');
      streams.add(name);
      await open({ stream: name, subject: own, duplicateWindowMs: 30_000 });
      const info = await jsm.streams.info(name);
      expect(info.config.subjects).toEqual([own]);
      expect(info.config.duplicate_window).toBe(nanos(30_000));
    });

    it('creates the stream once when two sinks open it at the same time', async () => {
      const name = uniqueName('SLUICE_SINK_RACE');
      const own = uniqueName('sluice_sink_race');
      streams.add(name);
      await Promise.all([open({ stream: name, subject: own }), open({ stream: name, subject: own })]);
      expect((await jsm.streams.info(name)).config.subjects).toEqual([own]);
    });

    it('publishes to a stream managed elsewhere when no stream is named', async () => {
      const sink = await open({ stream: undefined });
      const batch = complianceBatch(3, 'unnamed');
      await sink.write(batch);
      const found = new Set(await readIds());
      expect(batch.filter((r) => !found.has(r.id))).toEqual([]);
    });

    it('refuses to open, permanently, when no stream captures the subject', async () => {
      const sink = sinkFor({ stream: undefined, subject: uniqueName('sluice_nowhere') });
      sinks.push(sink);
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: expect.stringContaining('no JetStream stream captures subject'),
      });
    });

    it('refuses to open, permanently, when the subject belongs to a stream other than the one named', async () => {
      const name = uniqueName('SLUICE_SINK_OTHER');
      streams.add(name);
      await jsm.streams.add({ name, subjects: [uniqueName('sluice_other')] });
      const sink = sinkFor({ stream: name });
      sinks.push(sink);
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: expect.stringContaining(`captured by stream "${stream}"`),
      });
    });

    it('rejects a batch holding a record larger than the server takes with a permanent SinkError', async () => {
      const sink = await open();
      const batch = complianceBatch(3, 'oversized');
      batch[1] = { ...batch[1]!, payload: 'x'.repeat(nc.info!.max_payload + 1) };
      await expect(sink.write(batch)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false });
    });

    it('fails an open against an unreachable server at once with a retryable SinkError, not after its timeout', async () => {
      const sink = sinkFor({ servers: 'nats://127.0.0.1:1', timeoutMs: 20_000 });
      sinks.push(sink);
      const started = Date.now();
      const error = await sink.open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
      expect((error as Error).message).toContain('nats://127.0.0.1:1');
      expect((error as Error).cause).toBeDefined();
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it('fails writes retryably while the connection is cut, and stores again once the server is back, without reopening', async () => {
      const proxy = await proxyToServer();
      try {
        const sink = await open({ servers: `nats://127.0.0.1:${proxy.port}`, timeoutMs: 500 });
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
  });
});

describe('nats-jetstream sink options', () => {
  const valid = { type: 'nats-jetstream', subject: 'events.in' } as const;

  it('are accepted with only a subject, the rest defaulted', () => {
    expect(resolveSinkSpec(valid, 'sink')).toEqual(valid);
    expect(() => new NatsJetStreamSink(valid)).not.toThrow();
  });

  it.each([
    ['sink.subject', { subject: undefined }, 'got undefined'],
    ['sink.subject', { subject: 'events.*' }, 'got "events.*"'],
    ['sink.subject', { subject: 'events..in' }, 'got "events..in"'],
    ['sink.stream', { stream: 'EVENTS.IN' }, 'got "EVENTS.IN"'],
    ['sink.servers', { servers: [] }, 'got []'],
    ['sink.duplicateWindowMs', { duplicateWindowMs: 0 }, 'got 0'],
    ['sink.timeoutMs', { timeoutMs: 1.5 }, 'got 1.5'],
  ])('name %s and quote the value when it is wrong (%j)', (field, override, got) => {
    const spec = { ...valid, ...override } as NatsJetStreamSinkOptions & { type: 'nats-jetstream' };
    for (const attempt of [() => resolveSinkSpec(spec, 'sink'), () => new NatsJetStreamSink(spec)]) {
      const error = thrownBy(attempt);
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_OPTION' });
      expect(error.message.startsWith(`${field} must be `), error.message).toBe(true);
      expect(error.message.endsWith(`, ${got}`), error.message).toBe(true);
    }
  });

  it('name the dead-letter field when the spec is the dead-letter sink', () => {
    expect(() => resolveSinkSpec({ ...valid, subject: '' }, 'deadLetter')).toThrow(
      /^deadLetter\.subject must be/,
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
