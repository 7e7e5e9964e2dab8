import { createHash } from 'node:crypto';
import { MAX_ID_BYTES } from '../codec/event.js';
import { SourceAcks } from '../delivery/source-acks.js';
import { RecordTooLargeError } from '../errors.js';
import type { RawRecord } from '../queue/producer.js';
import { withStandIns } from '../queue/refused-record.js';
import {
  defaultMaxPending,
  refuseDroppingQueue,
  type SourceHealth,
  type SourceTarget,
  StoppableSource,
} from './source.js';

/** Events read from a broker, and the broker's handles for them (acknowledged once written). */
export type PushMessages<Token> = (records: RawRecord[], tokens: Token[]) => void;

/** A broker source's connection, once set up: what the shared read loop calls on it. */
export interface BrokerConnection<Token> {
  /**
   * Reads once — at most `room()` messages, asked again before each request to the broker — and
   * hands what it read to `push`, as many times as it likes. Resolves when the read is over (also
   * soon after `signal` aborts); the loop then waits for room and reads again.
   */
  read(room: () => number, push: PushMessages<Token>, signal: AbortSignal): Promise<void>;
  /** Acknowledges messages whose events were written or dead-lettered. */
  ack(tokens: readonly Token[]): Promise<void>;
  /** Messages whose push failed or was not accepted whole: left unacknowledged, to come again. */
  giveBack(tokens: readonly Token[]): void;
  /** What waits in the stream for this group, and what the group read and has not acknowledged. */
  backlog(): Promise<{ waiting: number | undefined; unacked: number | undefined }>;
}

/** How much a broker source reads at once and holds unacknowledged at most. */
export interface BrokerLimits {
  /** Messages asked for per read. */
  batch: number;
  /** Messages read and not yet acknowledged, at most. */
  maxPending: number;
}

/**
 * The skeleton every broker source shares: connect, then a loop of read → push → acknowledge once
 * the sink committed (SourceAcks), bounded by maxPending so that a stalled sink stops the reads and
 * the broker holds the backlog; on finish, the acknowledgements the drain made due, then the
 * disconnect. A broker source says how to connect and how to read once.
 */
export abstract class BrokerSource<Token> extends StoppableSource {
  #acks: SourceAcks<Token> | undefined;
  #connection: BrokerConnection<Token> | undefined;

  /** The source's name in messages: `nats-jetstream`, `redis-streams`. */
  protected abstract readonly kind: string;

  /** Messages per read and the bound on unacknowledged ones, as configured (undefined: the default). */
  protected abstract limits(): { batch: number; maxPending: number | undefined };

  /**
   * Connects and sets up the broker's side (stream, consumer, group); logs that reading starts.
   * What it connected is disconnected by disconnect(), even when it fails part way.
   */
  protected abstract connect(
    target: SourceTarget,
    limits: BrokerLimits,
    signal: AbortSignal,
  ): Promise<BrokerConnection<Token>>;

  /** Closes whatever connect() opened, once the acknowledgements the drain made due were sent. */
  protected abstract disconnect(): Promise<void>;

  /** Messages acknowledged so far. */
  protected get acked(): number {
    return this.#acks?.acked ?? 0;
  }

  protected async run(target: SourceTarget, signal: AbortSignal): Promise<void> {
    refuseDroppingQueue(target, this.kind);
    const { batch, maxPending: configured } = this.limits();
    const maxPending = configured ?? defaultMaxPending(target, batch);
    const connection = await this.connect(target, { batch, maxPending }, signal);
    this.#connection = connection;
    const acks = new SourceAcks<Token>(
      target,
      (tokens) => connection.ack(tokens),
      target.logger,
      (tokens) => connection.giveBack(tokens),
    );
    this.#acks = acks;
    const push: PushMessages<Token> = (records, tokens) => acks.track(this.#push(target, records), tokens);
    const room = () => Math.max(1, Math.min(batch, maxPending - acks.pending));
    while (!signal.aborted) {
      // Backpressure: ask for no more than the room left under maxPending. While the ring is full,
      // acknowledgements stop, so reads stop and the broker holds the backlog.
      await acks.whenBelow(maxPending - Math.min(batch, maxPending), signal);
      if (signal.aborted) break;
      await connection.read(room, push, signal);
    }
  }

  /**
   * Pushes a read's events. The ring refuses a group with any event larger than
   * queue.maxRecordBytes, and would for ever — given back, the message comes again — so such an
   * event goes as its stand-in (RefusedRecord), which a worker dead-letters as `too-large`: the
   * group is written, its messages acknowledged, and the rest of the stream flows.
   */
  async #push(target: SourceTarget, records: RawRecord[]): Promise<number> {
    for (const record of records) if (record.id !== undefined) record.id = fallbackId(record.id);
    try {
      return await target.pushRawRecords(records);
    } catch (error) {
      if (!(error instanceof RecordTooLargeError)) throw error;
      const maxRecordBytes = target.options.queue.maxRecordBytes;
      const replaced = withStandIns(records, maxRecordBytes);
      if (replaced === undefined) throw error;
      for (const standIn of replaced.refused) {
        target.logger.warn(
          { source: standIn.source, id: standIn.id, maxRecordBytes },
          `${this.kind}: a message larger than queue.maxRecordBytes; dead-lettered as too-large`,
        );
      }
      return target.pushRawRecords(replaced.records);
    }
  }

  async finish(): Promise<void> {
    await this.#acks?.finish();
    this.#connection = undefined;
    await this.disconnect();
  }

  /**
   * Where this source stands with its broker: the broker's own figures for the group (one request)
   * and what this process holds; undefined before it connected and after it finished. A broker that
   * cannot be asked leaves `waiting` and `unacked` undefined and says why.
   */
  async health(): Promise<SourceHealth | undefined> {
    const connection = this.#connection;
    if (!connection) return undefined;
    const held = this.#acks?.pending ?? 0;
    try {
      const { waiting, unacked } = await connection.backlog();
      return { source: this.kind, waiting, unacked, held, at: Date.now() };
    } catch (error) {
      return {
        source: this.kind,
        waiting: undefined,
        unacked: undefined,
        held,
        at: Date.now(),
        error: error instanceof Error ? error.message : String(error),
      };
    }
  }
}

/**
 * A broker's fallback id (a message's `Nats-Msg-Id`, `<stream>:<entry id>`) as an event's id may be:
 * one longer than MAX_ID_BYTES, or holding a lone surrogate, stands as a digest of itself. The ring
 * would refuse it — and with it every message pushed beside it, each given back to come again for
 * ever — although the message's own `id`, which a worker reads first, may be a good one. The digest
 * is the same on every delivery of the message, so a sink still stores it once.
 */
export function fallbackId(id: string): string {
  // Three UTF-8 bytes at most per UTF-16 unit: most ids need no count.
  if (id.length * 3 <= MAX_ID_BYTES && id.isWellFormed()) return id;
  if (id.isWellFormed() && Buffer.byteLength(id) <= MAX_ID_BYTES) return id;
  return `sha256:${createHash('sha256').update(id, 'utf16le').digest('hex')}`;
}
