import { isUtf8 } from 'node:buffer';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
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

export interface RedisStreamsSourceOptions {
  /** @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** The stream key; created (empty) with the group when absent. */
  stream: string;
  /** The consumer group; every process with the same group shares its work. */
  group: string;
  /** This process's name in the group. @default `<hostname>-<pid>` */
  consumer?: string;
  /** The entry field that holds the serialised event; an entry without it becomes `{ ...fields }`. @default 'data' */
  field?: string;
  /** Entries asked for per read. @default 256 */
  batch?: number;
  /** How long one read blocks waiting for entries, ms. @default 1000 */
  blockMs?: number;
  /** Entries pending (read, unacknowledged) longer than this are claimed from their consumer, ms. @default 30000 */
  claimIdleMs?: number;
  /** Entries read and not yet acknowledged, at most. @default what the ring holds at 256 bytes per event */
  maxPending?: number;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const DEFAULT_BATCH = 256;
const DEFAULT_BLOCK_MS = 1000;
const DEFAULT_CLAIM_IDLE_MS = 30_000;
/** How long an ack, claim or group command may wait (for a reconnect, say) before it fails. */
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * An entry as XREADGROUP/XAUTOCLAIM return it, as bytes (the commands' Buffer forms: a value that
 * is not UTF-8 must reach the workers as it was, to be refused there, not turned into U+FFFD here —
 * two such ids would become one); a pending entry since deleted has no fields.
 */
type EntryReply = [id: Buffer, fields: Buffer[] | null] | null;
/** An entry that still exists: its id and its fields, name and value alternating. */
interface StreamEntry {
  id: string;
  fields: Buffer[];
}

/**
 * Reads a Redis stream as one consumer of a consumer group (XREADGROUP). Each entry's `data` field
 * is one serialised event (parsed in a worker); its event id is the line's own `id`, else
 * `<stream>:<entry id>` — stable across redeliveries, so the sink's dedup absorbs them. An entry is
 * XACKed only after its event was written or dead-lettered (SourceAcks). At start the consumer
 * reads back its own pending entries (a restart under the same name); all along, it XAUTOCLAIMs
 * entries left pending longer than `claimIdleMs` by any consumer of the group — a dead process's
 * included.
 */
export class RedisStreamsSource extends BrokerSource<string> {
  protected readonly kind = 'redis-streams';
  readonly #options: RedisStreamsSourceOptions;
  readonly #consumer: string;
  #reader: Redis | undefined;
  #commands: Redis | undefined;
  /** Entry ids this process holds unacknowledged: XAUTOCLAIM must not hand them to it twice. */
  readonly #holding = new Set<string>();
  #received = 0;
  #claimed = 0;

  constructor(options: RedisStreamsSourceOptions) {
    super();
    for (const field of ['stream', 'group'] as const) {
      if (typeof options[field] !== 'string' || options[field] === '')
        throw new InvalidOptionError(`source.${field}`, 'a non-empty string', options[field]);
    }
    this.#options = options;
    this.#consumer = options.consumer ?? `${hostname()}-${process.pid}`;
  }

  /** This process's consumer name in the group. */
  get consumer(): string {
    return this.#consumer;
  }

  /** Entries received (claimed ones included), acknowledged, and claimed from idle consumers. */
  get counts(): { received: number; acked: number; claimed: number } {
    return { received: this.#received, acked: this.acked, claimed: this.#claimed };
  }

  protected limits(): { batch: number; maxPending: number | undefined } {
    return { batch: this.#options.batch ?? DEFAULT_BATCH, maxPending: this.#options.maxPending };
  }

  protected async connect(
    target: SourceTarget,
    { batch, maxPending }: BrokerLimits,
    signal: AbortSignal,
  ): Promise<BrokerConnection<string>> {
    const o = this.#options;
    const blockMs = o.blockMs ?? DEFAULT_BLOCK_MS;
    const claimIdleMs = o.claimIdleMs ?? DEFAULT_CLAIM_IDLE_MS;
    const logger = target.logger;
    const url = o.url ?? DEFAULT_REDIS_URL;
    // Loaded here, not at import: a process that never reads Redis never pays for the client.
    const { Redis } = await importOptional<typeof import('ioredis')>('ioredis', 'the redis-streams source');
    // A blocking XREADGROUP holds its connection: acknowledgements and claims use a second one.
    // While Redis is down, ioredis queues commands until it reconnects: the reader is disconnected
    // on stop so a pending read ends, and every other command gives up after COMMAND_TIMEOUT_MS
    // (an ack that fails leaves its entries pending, to be claimed again — never lost).
    // A connection that sends nothing back while a command waits past its due (a peer gone
    // half-open: a host replaced behind its address, a NAT that forgot the flow) is dropped and
    // made again, its commands sent anew; unchecked, a read on it would wait for ever. A read is
    // due after at most blockMs; an ack is given up on at half its timeout, so that it is sent
    // again on the new connection rather than fail (its entries would wait claimIdleMs).
    const reader = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      socketTimeout: blockMs + COMMAND_TIMEOUT_MS,
    });
    const commands = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      commandTimeout: COMMAND_TIMEOUT_MS,
      socketTimeout: COMMAND_TIMEOUT_MS / 2,
    });
    this.#reader = reader;
    this.#commands = commands;
    let lastError: Error | undefined;
    for (const connection of [reader, commands]) {
      connection.on('error', (error: Error) => {
        lastError = error;
        logger.warn({ err: error }, 'redis source connection error');
      });
      try {
        await connection.connect();
      } catch (error) {
        // ioredis rejects with "Connection is closed"; the error event before it says why.
        const cause = lastError ?? error;
        throw new SourceError(
          `redis-streams source: cannot connect to ${redactedUrl(url)}: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      }
    }
    try {
      await commands.xgroup('CREATE', o.stream, o.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).startsWith('BUSYGROUP')) {
        throw new SourceError(
          `redis-streams source: cannot create group source.group "${o.group}" on source.stream "${o.stream}": ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    const onAbort = () => reader.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    logger.info(
      { stream: o.stream, group: o.group, consumer: this.#consumer, batch, maxPending, claimIdleMs },
      'redis source reading',
    );
    const holding = this.#holding;
    // Compared as bytes: each entry's field names are never made strings.
    const field = Buffer.from(o.field ?? 'data');
    const pushEntries = (entries: StreamEntry[], push: PushMessages<string>) => {
      if (entries.length === 0) return;
      const records: RawRecord[] = entries.map((entry) => ({
        data: fieldOf(entry.fields, field) ?? fieldsJson(entry.fields),
        id: `${o.stream}:${entry.id}`,
      }));
      for (const entry of entries) holding.add(entry.id);
      this.#received += entries.length;
      push(
        records,
        entries.map((entry) => entry.id),
      );
    };

    // First this consumer's own pending entries (a restart under the same name), then new ones.
    let cursor = '0';
    let nextClaim = Date.now() + claimIdleMs / 2;
    const read = async (room: () => number, push: PushMessages<string>, signal: AbortSignal) => {
      if (Date.now() >= nextClaim) {
        const { entries, more } = await this.#claim(commands, claimIdleMs, room());
        pushEntries(entries, push);
        // A dead consumer may have left many: claim the rest before waiting on new entries.
        nextClaim = more ? 0 : Date.now() + claimIdleMs / 2;
        if (more) return;
      }
      const args: (string | number)[] = ['GROUP', o.group, this.#consumer, 'COUNT', room()];
      // Pending entries are there already; only new ones are waited for.
      if (cursor === '>') args.push('BLOCK', Math.min(blockMs, claimIdleMs));
      args.push('STREAMS', o.stream, cursor);
      // ioredis types each argument order separately; the call itself takes them as a list.
      const xreadgroup = reader.xreadgroupBuffer.bind(reader) as (
        ...a: (string | number)[]
      ) => Promise<unknown>;
      let reply: [Buffer, EntryReply[]][] | null;
      try {
        reply = (await xreadgroup(...args)) as [Buffer, EntryReply[]][] | null;
      } catch (error) {
        // Stopping disconnects the reader, which rejects the read it was waiting on.
        if (signal.aborted) return;
        throw error;
      }
      const all = (reply?.[0]?.[1] ?? []).filter((e) => e !== null);
      const entries = await this.#withoutDeleted(commands, all, logger);
      if (cursor !== '>') {
        // Reading this consumer's pending entries, after `cursor`: none left, so new ones next.
        if (all.length === 0) cursor = '>';
        else {
          cursor = all[all.length - 1]![0].toString('latin1');
          pushEntries(
            entries.filter(({ id }) => !holding.has(id)),
            push,
          );
        }
        return;
      }
      pushEntries(entries, push);
    };
    return {
      read,
      ack: async (ids) => {
        try {
          await commands.xack(o.stream, o.group, ...ids);
        } finally {
          // Acked, or left pending by a failed ack: either way no longer held here, so a claim
          // (this process's included) can take them again.
          for (const id of ids) holding.delete(id);
        }
      },
      giveBack: (ids) => {
        // Left pending: no longer held here, so a claim (this process's included) takes them
        // again once they have been idle for claimIdleMs.
        for (const id of ids) holding.delete(id);
      },
      backlog: () => groupBacklog(commands, o.stream, o.group),
    };
  }

  /**
   * The entries that still exist. A pending entry deleted from the stream since it was read (XDEL,
   * XTRIM, MAXLEN) comes back without fields: there is nothing left to deliver, so it is XACKed
   * out of the pending list and logged.
   */
  async #withoutDeleted(
    commands: Redis,
    entries: EntryReply[],
    logger: SourceTarget['logger'],
  ): Promise<StreamEntry[]> {
    const live: StreamEntry[] = [];
    const deleted: string[] = [];
    for (const entry of entries) {
      if (entry === null) continue;
      const id = entry[0].toString('latin1');
      if (entry[1] === null) deleted.push(id);
      else live.push({ id, fields: entry[1] });
    }
    if (deleted.length > 0) {
      logger.warn(
        { stream: this.#options.stream, ids: deleted },
        'pending entries no longer in the stream, acknowledged',
      );
      await commands.xack(this.#options.stream, this.#options.group, ...deleted);
    }
    return live;
  }

  /** XAUTOCLAIMs entries idle longer than `idleMs` in any consumer, skipping ones this process holds. */
  async #claim(
    commands: Redis,
    idleMs: number,
    batch: number,
  ): Promise<{ entries: StreamEntry[]; more: boolean }> {
    const o = this.#options;
    const claimed: StreamEntry[] = [];
    let start = '0-0';
    do {
      // ioredis has no typed Buffer form of XAUTOCLAIM: sent as a command whose reply stays bytes.
      const reply = (await commands.callBuffer('XAUTOCLAIM', [
        o.stream,
        o.group,
        this.#consumer,
        idleMs,
        start,
        'COUNT',
        batch - claimed.length,
      ])) as [Buffer, EntryReply[], Buffer[]?];
      start = reply[0].toString('latin1');
      // Redis 7 leaves deleted entries out (and drops them from the pending list) itself.
      for (const entry of reply[1]) {
        if (entry === null || entry[1] === null) continue;
        const id = entry[0].toString('latin1');
        if (this.#holding.has(id)) continue;
        claimed.push({ id, fields: entry[1] });
      }
    } while (start !== '0-0' && claimed.length < batch);
    this.#claimed += claimed.length;
    return { entries: claimed, more: start !== '0-0' };
  }

  protected async disconnect(): Promise<void> {
    const commands = this.#commands;
    // QUIT lets Redis finish what it was sent; a connection that is down has nothing to finish.
    if (commands?.status === 'ready') await commands.quit().catch(() => undefined);
    commands?.disconnect();
    this.#reader?.disconnect();
  }
}

/** The value of field `name` (its UTF-8 bytes), as its bytes. */
function fieldOf(fields: Buffer[], name: Buffer): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.equals(name)) return fields[i + 1];
  return undefined;
}

/**
 * An entry without the configured field, as one JSON object of its fields (the last of a repeated
 * name wins). Values that are not UTF-8 keep their bytes inside the JSON string, for the workers
 * to judge, rather than become U+FFFD here.
 */
function fieldsJson(fields: Buffer[]): string | Buffer {
  // A null-prototype object: a field named __proto__ stays a plain field.
  const out: Record<string, Buffer> = Object.create(null);
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!.toString()] = fields[i + 1]!;
  const entries = Object.entries(out);
  if (entries.every(([, value]) => isUtf8(value))) {
    const text: Record<string, string> = Object.create(null);
    for (const [name, value] of entries) text[name] = value.toString();
    return JSON.stringify(text);
  }
  const parts: Buffer[] = [];
  for (const [name, value] of entries) {
    parts.push(
      Buffer.from(`${parts.length === 0 ? '{' : ','}${JSON.stringify(name)}:`),
      jsonStringBytes(value),
    );
  }
  parts.push(Buffer.from(parts.length === 0 ? '{}' : '}'));
  return Buffer.concat(parts);
}

/** `value` as a JSON string's bytes: quote, backslash and control bytes escaped, every other byte as it is. */
function jsonStringBytes(value: Buffer): Buffer {
  const out: number[] = [0x22];
  for (const byte of value) {
    if (byte === 0x22 || byte === 0x5c) out.push(0x5c, byte);
    else if (byte < 0x20) out.push(...Buffer.from(`\\u${byte.toString(16).padStart(4, '0')}`));
    else out.push(byte);
  }
  out.push(0x22);
  return Buffer.from(out);
}

/**
 * XINFO GROUPS for `group`: `lag` (entries not yet delivered to the group; Redis 7 and later, and
 * undefined when Redis cannot tell, e.g. after entries were deleted) and `pending` (delivered, not
 * acknowledged).
 */
async function groupBacklog(
  commands: Redis,
  stream: string,
  group: string,
): Promise<{ waiting: number | undefined; unacked: number | undefined }> {
  const groups = (await commands.call('XINFO', 'GROUPS', stream)) as unknown[][];
  for (const fields of groups) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < fields.length; i += 2) info.set(String(fields[i]), fields[i + 1]);
    if (info.get('name') !== group) continue;
    const lag = info.get('lag');
    return {
      waiting: typeof lag === 'number' ? lag : undefined,
      unacked: typeof info.get('pending') === 'number' ? (info.get('pending') as number) : undefined,
    };
  }
  return { waiting: undefined, unacked: undefined };
}
