import { Redis } from 'ioredis';
import { RedisStreamsSource } from '../../src/sources/redis-streams-source.js';
import { type BrokerCase, eventJson, throwIfAborted, uniqueName } from './broker-case.js';

/** XADDs sent per round trip while publishing. */
const PUBLISH_PIPELINE = 5000;
/** How long one read blocks for new entries, ms (the source's default). */
const BLOCK_MS = 1000;

type Reply = [stream: string, entries: ([id: string, fields: string[]] | null)[]][] | null;

/**
 * Redis Streams: one stream key; every measurement reads it through its own consumer group, so
 * each starts from the first entry.
 */
export class RedisStreamsCase implements BrokerCase {
  readonly name = 'Redis Streams';
  readonly #url: string;
  readonly #stream = uniqueName('bench_brokers');
  readonly #maxPending: number;
  #client: Redis | undefined;
  #groups = 0;

  constructor(url: string, maxPending: number) {
    this.#url = url;
    this.#maxPending = maxPending;
  }

  async setUp(events: number, signal: AbortSignal): Promise<void> {
    const client = new Redis(this.#url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    await client.connect();
    this.#client = client;
    for (let i = 0; i < events; i += PUBLISH_PIPELINE) {
      throwIfAborted(signal, 'redis publish');
      const pipeline = client.pipeline();
      for (let k = i; k < Math.min(events, i + PUBLISH_PIPELINE); k++)
        pipeline.xadd(this.#stream, '*', 'data', eventJson(k));
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error !== null);
      if (failed) throw failed[0];
    }
    const length = await client.xlen(this.#stream);
    if (length !== events) throw new Error(`stream ${this.#stream} holds ${length} of ${events} entries`);
  }

  #connection(): Redis {
    if (!this.#client) throw new Error('RedisStreamsCase.setUp() has not run');
    return this.#client;
  }

  async #createGroup(group: string): Promise<void> {
    await this.#connection().xgroup('CREATE', this.#stream, group, '0');
  }

  async #destroyGroup(group: string): Promise<void> {
    await this.#connection()
      .xgroup('DESTROY', this.#stream, group)
      .catch(() => undefined);
  }

  async baseline(events: number, batch: number, signal: AbortSignal): Promise<number> {
    const client = this.#connection();
    const group = `baseline_${++this.#groups}`;
    await this.#createGroup(group);
    try {
      // The typed command, which shapes the reply as [[stream, entries]] under RESP2 and RESP3
      // alike (a raw `call` gets RESP3's map flattened); its overloads do not take a built list.
      const xreadgroup = client.xreadgroup.bind(client) as (...args: (string | number)[]) => Promise<unknown>;
      let first: number | undefined;
      let acked = 0;
      while (acked < events) {
        throwIfAborted(signal, 'redis baseline');
        const reply = (await xreadgroup(
          'GROUP',
          group,
          'reader',
          'COUNT',
          Math.min(batch, events - acked),
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.#stream,
          '>',
        )) as Reply;
        const ids: string[] = [];
        for (const entry of reply?.[0]?.[1] ?? []) if (entry) ids.push(entry[0]);
        if (ids.length === 0) continue;
        first ??= performance.now();
        await client.xack(this.#stream, group, ...ids);
        acked += ids.length;
      }
      return (performance.now() - first!) / 1000;
    } finally {
      await this.#destroyGroup(group);
    }
  }

  source(batch: number) {
    const group = `sluice_${++this.#groups}`;
    const source = new RedisStreamsSource({
      url: this.#url,
      stream: this.#stream,
      group,
      consumer: 'reader',
      batch,
      blockMs: BLOCK_MS,
      maxPending: this.#maxPending,
    });
    return { source, dispose: () => this.#destroyGroup(group) };
  }

  async tearDown(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#client = undefined;
    try {
      await client.del(this.#stream);
    } finally {
      client.disconnect();
    }
  }
}
