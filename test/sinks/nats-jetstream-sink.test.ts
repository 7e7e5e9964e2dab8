import { connect, type JetStreamManager, type NatsConnection, nanos } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { NatsJetStreamSink, type NatsJetStreamSinkOptions } from '../../src/sinks/nats-jetstream-sink.js';
import { NATS_URL, nats, uniqueName } from '../helpers/brokers.js';
import {
  brokerSinkCases,
  complianceBatch,
  runSinkCompliance,
  sinkOptionCases,
  sinksClosedAfterEach,
} from '../helpers/sink-compliance.js';

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
  return new NatsJetStreamSink(
    resolveSinkSpec({ type: 'nats-jetstream', servers: NATS_URL, subject, stream, ...options }),
  );
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
    const sinks = sinksClosedAfterEach(sinkFor);
    const open = sinks.open;

    brokerSinkCases({
      sinks,
      readIds: () => readIds(),
      freshTarget(label) {
        const name = uniqueName(`SLUICE_SINK_${label.toUpperCase()}`);
        streams.add(name);
        return {
          options: { stream: name, subject: uniqueName(`sluice_sink_${label}`) },
          readIds: () => readIds(name),
        };
      },
      keepsBatchOrder: false,
      serverUrl: NATS_URL,
      at: (url) => ({ servers: url }),
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
      const sink = sinks.make({ stream: undefined, subject: uniqueName('sluice_nowhere') });
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
      const sink = sinks.make({ stream: name });
      await expect(sink.open()).rejects.toMatchObject({
        code: 'SLUICE_SINK_ERROR',
        retryable: false,
        message: expect.stringContaining(`captured by stream "${stream}"`),
      });
    });

    it('refuses only the records the server or a header cannot take, each with a permanent per-record SinkError, and stores the rest', async () => {
      const sink = await open();
      const before = new Set(await readIds());
      const batch = complianceBatch(5, 'refused');
      batch[1] = { ...batch[1]!, payload: 'x'.repeat(nc.info!.max_payload + 1) };
      // A message id travels as the Nats-Msg-Id header, which cannot hold a line break.
      batch[3] = { ...batch[3]!, id: `${batch[3]!.id}\r\nX-Injected: 1` };
      const outcome = await sink.write(batch);
      expect(outcome?.failed.map((f) => f.index)).toEqual([1, 3]);
      for (const { error } of outcome!.failed) {
        expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: false, perRecord: true });
      }
      expect((outcome!.failed[0]!.error as Error).message).toMatch(/MAX_PAYLOAD_EXCEEDED/);
      expect((outcome!.failed[1]!.error as Error).message).toMatch(/header/);
      const stored = (await readIds()).filter((id) => !before.has(id));
      expect(stored.sort()).toEqual([batch[0]!.id, batch[2]!.id, batch[4]!.id].sort());
    });

    it('refuses each record of a batch the server refuses whole, permanently, without a split to find them', async () => {
      const sink = await open();
      const batch = complianceBatch(3, 'all-oversized').map((r) => ({
        ...r,
        payload: 'x'.repeat(nc.info!.max_payload + 1),
      }));
      const outcome = await sink.write(batch);
      expect(outcome?.failed.map((f) => f.index)).toEqual([0, 1, 2]);
      for (const { error } of outcome!.failed)
        expect(error).toMatchObject({ retryable: false, perRecord: true });
    });
  });
});

sinkOptionCases({
  valid: { type: 'nats-jetstream', subject: 'events.in' },
  required: 'subject',
  resolved: {
    type: 'nats-jetstream',
    subject: 'events.in',
    servers: ['nats://127.0.0.1:4222'],
    stream: undefined,
    duplicateWindowMs: 120_000,
    timeoutMs: 5000,
  },
  construct: (spec) => new NatsJetStreamSink(spec),
  invalid: [
    ['sink.subject', { subject: undefined }, 'got undefined'],
    ['sink.subject', { subject: 'events.*' }, 'got "events.*"'],
    ['sink.subject', { subject: 'events..in' }, 'got "events..in"'],
    ['sink.stream', { stream: 'EVENTS.IN' }, 'got "EVENTS.IN"'],
    ['sink.servers', { servers: [] }, 'got []'],
    ['sink.duplicateWindowMs', { duplicateWindowMs: 0 }, 'got 0'],
    ['sink.timeoutMs', { timeoutMs: 1.5 }, 'got 1.5'],
  ],
});
