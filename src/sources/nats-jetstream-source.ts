import type { Consumer, ConsumerConfig, JetStreamManager, JsMsg, NatsConnection } from 'nats';
import { InvalidOptionError, redactedUrl, SourceError } from '../errors.js';
import { importOptional } from '../optional-package.js';
import type { RawRecord } from '../queue/producer.js';
import {
  type BrokerConnection,
  type BrokerLimits,
  BrokerSource,
  type PushMessages,
} from './broker-source.js';
import type { SourceTarget } from './source.js';

export interface NatsJetStreamSourceOptions {
  /** @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** The stream to read. */
  stream: string;
  /** Subjects of the stream, which is created with them when it does not exist (else it must). */
  subjects?: string[];
  /** The durable pull consumer; every process with the same name shares its work. */
  durable: string;
  /** Only messages on this subject (a filter within the stream). */
  filterSubject?: string;
  /** Messages asked for per pull. @default 256 */
  batch?: number;
  /** How long the server waits for an acknowledgement before delivering a message again. @default 30000 */
  ackWaitMs?: number;
  /**
   * Messages handed out and not yet acknowledged, at most: the consumer's max_ack_pending, and the
   * most this process holds. @default what the ring holds at 256 bytes per event (see SCALING.md)
   */
  maxAckPending?: number;
}

export const DEFAULT_NATS_SERVERS = 'nats://127.0.0.1:4222';
const DEFAULT_BATCH = 256;
const DEFAULT_ACK_WAIT_MS = 30_000;
/** How long one pull waits for messages before asking again; bounds how long a stop takes. */
const PULL_EXPIRES_MS = 1000;
/**
 * The client pings the server this often, and after PING_OUT pings unanswered takes the connection
 * for dead and makes it again. A peer gone half-open (a host replaced behind its address, a NAT
 * that forgot the flow) never closes the connection: pulls on it come back empty and the flush
 * after acks waits for ever, so at the client's default of a ping every two minutes the source
 * would read nothing for four to six minutes while the server was reachable all along.
 */
const PING_INTERVAL_MS = 5_000;
const PING_OUT = 2;
/** The client, loaded by the first source that starts (see run()). */
let nats: typeof import('nats');
/**
 * Reads a JetStream stream through a durable pull consumer. Each message's data is one serialised
 * event (a JSON object, parsed in a worker); its event id is the message's own `id` field, else its
 * `Nats-Msg-Id` header, else `<stream>:<stream sequence>` — stable across redeliveries, so the sink's
 * dedup absorbs them. A message is acknowledged only after its event was written or dead-lettered
 * (SourceAcks); a process killed at any instant leaves the rest to be delivered again after
 * `ackWaitMs`, to whichever process of the group pulls next.
 */
export class NatsJetStreamSource extends BrokerSource<JsMsg> {
  protected readonly kind = 'nats-jetstream';
  readonly #options: NatsJetStreamSourceOptions;
  #connection: NatsConnection | undefined;
  /** Messages read and not yet acknowledged or given back. */
  readonly #held = new Set<JsMsg>();
  #heartbeat: NodeJS.Timeout | undefined;
  #received = 0;
  #redelivered = 0;

  constructor(options: NatsJetStreamSourceOptions) {
    super();
    for (const field of ['stream', 'durable'] as const) {
      if (typeof options[field] !== 'string' || options[field] === '')
        throw new InvalidOptionError(`source.${field}`, 'a non-empty string', options[field]);
    }
    this.#options = options;
  }

  /** Messages received, acknowledged, and received again after an earlier delivery. */
  get counts(): { received: number; acked: number; redelivered: number } {
    return { received: this.#received, acked: this.acked, redelivered: this.#redelivered };
  }

  protected limits(): { batch: number; maxPending: number | undefined } {
    return { batch: this.#options.batch ?? DEFAULT_BATCH, maxPending: this.#options.maxAckPending };
  }

  protected async connect(
    target: SourceTarget,
    { batch, maxPending }: BrokerLimits,
  ): Promise<BrokerConnection<JsMsg>> {
    const o = this.#options;
    // Loaded here, not at import: a process that never reads NATS never pays for the client.
    nats = await importOptional<typeof import('nats')>('nats', 'the nats-jetstream source');
    const { connect } = nats;
    const servers = o.servers ?? DEFAULT_NATS_SERVERS;
    const nc = await connect({
      servers,
      name: `sluice-${process.pid}`,
      maxReconnectAttempts: -1,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: PING_OUT,
    }).catch((error: unknown) => {
      const where = [servers].flat().map(redactedUrl).join(', ');
      throw new SourceError(
        `nats-jetstream source: cannot connect to ${where}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
    this.#connection = nc;
    const jsm = await nc.jetstreamManager();
    await this.#ensureStream(jsm);
    const ackWaitMs = await this.#ensureConsumer(jsm, maxPending);
    const consumer = await nc.jetstream().consumers.get(o.stream, o.durable);
    const held = this.#held;
    // A message still in the ring when ackWait runs out would be delivered again while it waits:
    // harmless (dedup) but wasted. Telling the server it is in progress restarts its ack timer —
    // the durable's own ack wait, which an existing durable may have set shorter than the default.
    this.#heartbeat = setInterval(() => {
      for (const message of held) message.working();
    }, ackWaitMs / 3);
    this.#heartbeat.unref();
    target.logger.info(
      { stream: o.stream, durable: o.durable, batch, maxAckPending: maxPending },
      'nats source reading',
    );
    return {
      read: (room, push) => this.#read(consumer, room(), push),
      ack: async (messages) => {
        for (const message of messages) {
          held.delete(message);
          message.ack();
        }
        // Acks are fire-and-forget publishes; a flush (PING/PONG) returns once the server has them.
        await nc.flush();
      },
      giveBack: (messages) => {
        // Not acknowledged (the push failed): delivered again now, not after ackWait.
        for (const message of messages) {
          held.delete(message);
          message.nak();
        }
      },
      backlog: async () => {
        const info = await jsm.consumers.info(o.stream, o.durable);
        return { waiting: info.num_pending, unacked: info.num_ack_pending };
      },
    };
  }

  /** One pull of at most `room` messages; messages that arrive together are pushed together. */
  async #read(consumer: Consumer, room: number, push: PushMessages<JsMsg>): Promise<void> {
    const stream = this.#options.stream;
    let buffer: JsMsg[] = [];
    const flush = () => {
      if (buffer.length === 0) return;
      const messages = buffer;
      buffer = [];
      const records: RawRecord[] = messages.map((m) => ({
        data: m.data,
        id: messageId(m) ?? `${stream}:${m.seq}`,
      }));
      push(records, messages);
    };
    const messages = await consumer.fetch({ max_messages: room, expires: PULL_EXPIRES_MS });
    let scheduled = false;
    for await (const message of messages) {
      this.#received++;
      if (message.redelivered) this.#redelivered++;
      buffer.push(message);
      this.#held.add(message);
      // Messages that arrive together are pushed together, once this I/O turn is over.
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
    }
    flush();
  }

  async #ensureStream(jsm: JetStreamManager): Promise<void> {
    const o = this.#options;
    try {
      await jsm.streams.info(o.stream);
      return;
    } catch (error) {
      if (!isNotFound(error)) {
        throw new SourceError(
          `nats-jetstream source: cannot look up source.stream "${o.stream}": ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (!o.subjects || o.subjects.length === 0) {
        throw new InvalidOptionError(
          'source.stream',
          'an existing JetStream stream, or "subjects" to create it (no such stream)',
          o.stream,
        );
      }
    }
    try {
      await jsm.streams.add({ name: o.stream, subjects: o.subjects });
    } catch (error) {
      throw new SourceError(
        `nats-jetstream source: cannot create source.stream "${o.stream}" with subjects ${JSON.stringify(o.subjects)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** Creates the durable, or checks and adjusts an existing one; returns its ack wait, ms. */
  async #ensureConsumer(jsm: JetStreamManager, maxAckPending: number): Promise<number> {
    const o = this.#options;
    const config: Partial<ConsumerConfig> = {
      durable_name: o.durable,
      ack_policy: nats.AckPolicy.Explicit,
      deliver_policy: nats.DeliverPolicy.All,
      ack_wait: nats.nanos(o.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
      max_ack_pending: maxAckPending,
      ...(o.filterSubject ? { filter_subject: o.filterSubject } : {}),
    };
    const existing = await jsm.consumers.info(o.stream, o.durable).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw new SourceError(
        `nats-jetstream source: cannot look up source.durable "${o.durable}": ${(error as Error).message}`,
        { cause: error },
      );
    });
    if (existing === undefined) {
      // Two processes starting at once may both get here; the same config is accepted twice.
      await jsm.consumers.add(o.stream, config);
      return o.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    }
    // Everything is checked before anything is changed: a refused start leaves the group's durable
    // as it was.
    const current = existing.config;
    if (current.ack_policy !== nats.AckPolicy.Explicit || current.deliver_subject) {
      // AckAll would let one process's ack cover messages another still holds; AckNone has no
      // acks at all; a push consumer is not pulled from.
      throw new InvalidOptionError(
        'source.durable',
        `a pull consumer with explicit acks (this one is ${current.deliver_subject ? 'a push consumer' : `ack_policy ${current.ack_policy}`}); use another durable name`,
        o.durable,
      );
    }
    if (o.filterSubject !== undefined && current.filter_subject !== o.filterSubject) {
      throw new InvalidOptionError(
        'source.filterSubject',
        `the durable's own filter ("${current.filter_subject ?? ''}"): a durable's filter is fixed; use another durable name`,
        o.filterSubject,
      );
    }
    // An existing durable keeps its settings unless this config sets them explicitly: processes of
    // one group with different ring sizes (so different defaults) must not keep overwriting them.
    const update: Partial<ConsumerConfig> = {};
    if (o.ackWaitMs !== undefined && current.ack_wait !== config.ack_wait) update.ack_wait = config.ack_wait;
    if (o.maxAckPending !== undefined && current.max_ack_pending !== config.max_ack_pending) {
      update.max_ack_pending = config.max_ack_pending;
    }
    if (Object.keys(update).length > 0) await jsm.consumers.update(o.stream, o.durable, update);
    return o.ackWaitMs ?? (current.ack_wait ?? nats.nanos(DEFAULT_ACK_WAIT_MS)) / 1e6;
  }

  protected async disconnect(): Promise<void> {
    clearInterval(this.#heartbeat);
    await this.#connection?.drain().catch(() => this.#connection?.close());
  }
}

/** JetStream's "stream not found" / "consumer not found" (API error codes 10059 and 10014). */
function isNotFound(error: unknown): boolean {
  const code = (error as { api_error?: { err_code?: number } }).api_error?.err_code;
  return code === 10059 || code === 10014 || /not found/i.test(String((error as Error).message));
}

/**
 * A message's `Nats-Msg-Id`, unless it is empty or holds U+FFFD: the client decodes a header's bytes
 * that are not UTF-8 as U+FFFD, and two messages whose ids differ only in such bytes — distinct to
 * the server, which compares bytes — would become one event id, and a sink would keep only one of
 * them. Such a message is known by its stream sequence instead, the same on every delivery.
 */
function messageId(message: JsMsg): string | undefined {
  const id = message.headers?.get('Nats-Msg-Id');
  return id && !id.includes('\uFFFD') ? id : undefined;
}
