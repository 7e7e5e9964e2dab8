import { AckPolicy, connect, DeliverPolicy, type JsMsg, type NatsConnection, nanos } from 'nats';
import { NatsJetStreamSource } from '../../src/sources/nats-jetstream-source.js';
import { type BrokerCase, eventJson, throwIfAborted, uniqueName } from './broker-case.js';

/** Publishes awaited at once: enough to keep the server busy, few enough to bound memory. */
const PUBLISH_WINDOW = 1000;
/** How long one pull waits for messages, ms (the source's own pulls wait as long). */
const PULL_EXPIRES_MS = 1000;
const ACK_WAIT_MS = 30_000;

/**
 * NATS JetStream: a stream with one subject; every measurement reads it through its own durable
 * pull consumer, created with the settings the Sluice source gives its own.
 */
export class NatsJetStreamCase implements BrokerCase {
  readonly name = 'NATS JetStream';
  readonly #servers: string;
  readonly #stream = uniqueName('BENCH_BROKERS');
  readonly #maxAckPending: number;
  #nc: NatsConnection | undefined;
  #consumers = 0;

  constructor(servers: string, maxAckPending: number) {
    this.#servers = servers;
    this.#maxAckPending = maxAckPending;
  }

  async setUp(events: number, signal: AbortSignal): Promise<void> {
    this.#nc = await connect({ servers: this.#servers, timeout: 5000 });
    const jsm = await this.#nc.jetstreamManager();
    const subject = `${this.#stream.toLowerCase()}.events`;
    await jsm.streams.add({ name: this.#stream, subjects: [subject] });
    const js = this.#nc.jetstream();
    for (let i = 0; i < events; i += PUBLISH_WINDOW) {
      throwIfAborted(signal, 'nats publish');
      const window: Promise<unknown>[] = [];
      for (let k = i; k < Math.min(events, i + PUBLISH_WINDOW); k++)
        window.push(js.publish(subject, eventJson(k)));
      await Promise.all(window);
    }
    const info = await jsm.streams.info(this.#stream);
    if (info.state.messages !== events)
      throw new Error(`stream ${this.#stream} holds ${info.state.messages} of ${events} messages`);
  }

  #connection(): NatsConnection {
    if (!this.#nc) throw new Error('NatsJetStreamCase.setUp() has not run');
    return this.#nc;
  }

  async baseline(events: number, batch: number, signal: AbortSignal): Promise<number> {
    const nc = this.#connection();
    const durable = `baseline_${++this.#consumers}`;
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(this.#stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: this.#maxAckPending,
    });
    try {
      const consumer = await nc.jetstream().consumers.get(this.#stream, durable);
      let first: number | undefined;
      let acked = 0;
      while (acked < events) {
        throwIfAborted(signal, 'nats baseline');
        const messages = await consumer.fetch({
          max_messages: Math.min(batch, events - acked),
          expires: PULL_EXPIRES_MS,
        });
        const stop = () => messages.stop();
        signal.addEventListener('abort', stop, { once: true });
        const received: JsMsg[] = [];
        for await (const message of messages) {
          first ??= performance.now();
          received.push(message);
        }
        signal.removeEventListener('abort', stop);
        // Acknowledged once the pull is complete, as XACK follows XREADGROUP: acks sent while the
        // server is still delivering the pull made each pull 4–6× slower on this machine.
        for (const message of received) message.ack();
        acked += received.length;
      }
      // Acks are fire-and-forget publishes; the flush returns once the server has them all.
      await nc.flush();
      return (performance.now() - first!) / 1000;
    } finally {
      await jsm.consumers.delete(this.#stream, durable).catch(() => undefined);
    }
  }

  source(batch: number) {
    const durable = `sluice_${++this.#consumers}`;
    const source = new NatsJetStreamSource({
      servers: this.#servers,
      stream: this.#stream,
      durable,
      batch,
      ackWaitMs: ACK_WAIT_MS,
      maxAckPending: this.#maxAckPending,
    });
    const dispose = async () => {
      const jsm = await this.#connection().jetstreamManager();
      await jsm.consumers.delete(this.#stream, durable).catch(() => undefined);
    };
    return { source, dispose };
  }

  async tearDown(): Promise<void> {
    const nc = this.#nc;
    if (!nc) return;
    this.#nc = undefined;
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(this.#stream).catch(() => undefined);
    } finally {
      await nc.close();
    }
  }
}
