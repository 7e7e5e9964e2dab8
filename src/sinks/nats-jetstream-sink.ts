import type { JetStreamClient, NatsConnection } from 'nats';
import type { SinkRecord } from '../codec/event.js';
import { redactedUrl, SinkError } from '../errors.js';
import { importOptional } from '../optional-package.js';
import { recordJson, type Sink, type WriteOutcome } from './sink.js';
import { requireOpen, sinkFailure, TRANSIENT_NETWORK_CODES } from './sink-support.js';

export interface NatsJetStreamSinkOptions {
  /** Server URL, or several to fail over between. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** Subject every record is published to (no wildcards). A JetStream stream must capture it. */
  subject: string;
  /**
   * Stream to create, capturing `subject`, when no stream of this name exists. Omit it when the
   * stream is managed elsewhere; open() then only checks that some stream captures `subject`.
   */
  stream?: string;
  /**
   * Duplicate window of the stream this sink creates, ms: a record republished within it is stored
   * once. A stream that already exists keeps its own window. @default 120000
   */
  duplicateWindowMs?: number;
  /**
   * How long connecting, and each publish waiting for the server's ack, may take, ms; also the
   * interval of the client's pings, two of which unanswered drop the connection and make it again.
   * @default 5000
   */
  timeoutMs?: number;
}

export const DEFAULT_NATS_JETSTREAM_SINK_OPTIONS = {
  servers: 'nats://127.0.0.1:4222',
  duplicateWindowMs: 120_000,
  timeoutMs: 5_000,
} as const satisfies Partial<NatsJetStreamSinkOptions>;

/** Every option given, servers as a list; only src/config/sinks/nats-jetstream-sink-schema.ts makes these. */
export interface ResolvedNatsJetStreamSinkOptions {
  servers: string[];
  subject: string;
  stream: string | undefined;
  duplicateWindowMs: number;
  timeoutMs: number;
}

/** Pings unanswered after which the connection is dropped and made again. */
const PING_OUT = 2;
/** JetStream API error for "stream not found". */
const STREAM_NOT_FOUND = 10059;
/** Client error codes that a reconnect or a later attempt can clear. */
const RETRY_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DRAINING',
  'CONNECTION_REFUSED',
  'CONNECTION_TIMEOUT',
  'DISCONNECT',
  'TIMEOUT',
  'AUTHENTICATION_TIMEOUT',
  // No responders: no stream is listening right now (JetStream restarting, leader election).
  '503',
  '408',
  ...TRANSIENT_NETWORK_CODES,
]);

/** Whether a NATS or JetStream error is transient: connection trouble, timeouts, server-side 5xx. */
export function isRetryableNatsError(error: unknown): boolean {
  const apiCode = (error as { api_error?: { code?: unknown } })?.api_error?.code;
  if (typeof apiCode === 'number') return apiCode >= 500 || apiCode === 408 || apiCode === 429;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') return RETRY_CODES.has(code);
  // Without a code it is not one of the client's classified errors: retry rather than give up.
  return true;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { api_error?: { err_code?: unknown } })?.api_error?.err_code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Publishes each record to a JetStream subject as the JSON of `{id, key, source, ts, payload}`,
 * with the record id as the message id (`Nats-Msg-Id`). The server stores a message id once per
 * stream *within the stream's duplicate window* (`duplicateWindowMs` for a stream this sink
 * creates): a batch retried inside that window stores each record once; a record republished
 * after it has passed is stored again.
 *
 * A batch is published concurrently on one connection and resolves once every publish is acked.
 * A publish that fails fails its record alone (WriteOutcome), retryable or not as its error is;
 * only when every publish failed retryably (the server or the link down) is the batch rejected
 * whole, to be tried again. Republishing is safe: records that did land are recognised as
 * duplicates. The client library is imported in open(), so workers whose pipeline uses another
 * sink never load it.
 */
export class NatsJetStreamSink implements Sink {
  readonly idempotent = true;
  readonly #options: ResolvedNatsJetStreamSinkOptions;
  readonly #encoder = new TextEncoder();
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;

  /** `options` as resolved on the main thread. */
  constructor(options: ResolvedNatsJetStreamSinkOptions) {
    this.#options = options;
  }

  async open(): Promise<void> {
    const { connect, nanos } = await importOptional<typeof import('nats')>('nats', 'the nats-jetstream sink');
    const { servers, timeoutMs } = this.#options;
    let nc: NatsConnection;
    try {
      // Reconnect without limit: a broker restart must not leave a worker with a dead sink. While
      // it is away, publishes time out after timeoutMs and the batch is retried.
      // A server that answers none of PING_OUT pings timeoutMs apart is taken for gone and the
      // connection made again: a peer gone half-open (a host replaced behind its address, a NAT
      // that forgot the flow) never closes it, and at the client's default of two minutes a ping
      // every publish would time out on the dead connection for four to six minutes — past
      // retry.maxElapsedMs, its events dead-lettered while the server was there all along.
      nc = await connect({
        servers,
        timeout: timeoutMs,
        maxReconnectAttempts: -1,
        pingInterval: timeoutMs,
        maxPingOut: PING_OUT,
      });
    } catch (error) {
      throw sinkFailure('nats-jetstream', `cannot connect to ${servers.map(redactedUrl).join(', ')}`, error, {
        retryable: isRetryableNatsError(error),
      });
    }
    try {
      await this.#checkStream(nc, nanos);
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
    this.#nc = nc;
    this.#js = nc.jetstream({ timeout: timeoutMs });
  }

  /** Creates the configured stream if missing, then checks that a stream captures the subject. */
  async #checkStream(nc: NatsConnection, nanos: (ms: number) => number): Promise<void> {
    const { subject, stream, duplicateWindowMs, timeoutMs } = this.#options;
    let captor: string;
    try {
      const jsm = await nc.jetstreamManager({ timeout: timeoutMs });
      if (stream !== undefined) {
        try {
          await jsm.streams.info(stream);
        } catch (error) {
          if (errorCode(error) !== STREAM_NOT_FOUND) throw error;
          try {
            await jsm.streams.add({
              name: stream,
              subjects: [subject],
              duplicate_window: nanos(duplicateWindowMs),
            });
          } catch (addError) {
            // Another worker may have created it first; that is as good as creating it here.
            const created = await jsm.streams.info(stream).then(
              () => true,
              () => false,
            );
            if (!created) throw addError;
          }
        }
      }
      captor = await jsm.streams.find(subject).catch((error: unknown) => {
        if (error instanceof Error && /no stream matches/.test(error.message)) return '';
        throw error;
      });
    } catch (error) {
      throw sinkFailure('nats-jetstream', `cannot set up stream for ${subject}`, error, {
        retryable: isRetryableNatsError(error),
      });
    }
    if (captor === '') {
      throw new SinkError(
        `nats-jetstream: no JetStream stream captures subject ${JSON.stringify(subject)}; ` +
          'create one, or name one in the stream option for the sink to create',
        { retryable: false },
      );
    }
    if (stream !== undefined && captor !== stream) {
      throw new SinkError(
        `nats-jetstream: subject ${JSON.stringify(subject)} is captured by stream ` +
          `${JSON.stringify(captor)}, not by the configured stream ${JSON.stringify(stream)}`,
        { retryable: false },
      );
    }
  }

  async write(records: readonly SinkRecord[]): Promise<WriteOutcome | undefined> {
    const js = requireOpen(this.#js, 'nats-jetstream');
    const { subject } = this.#options;
    // A payload that cannot be encoded fails its record alone (payloadJsonOf's per-record error).
    const messages = records.map((r) => this.#encoder.encode(recordJson(r)));
    const results = await Promise.allSettled(
      messages.map((data, i) => js.publish(subject, data, { msgID: records[i]!.id })),
    );
    const failed: WriteOutcome['failed'] = [];
    results.forEach((result, index) => {
      if (result.status === 'rejected') failed.push({ index, error: result.reason });
    });
    if (failed.length === 0) return undefined;
    if (failed.length === records.length && failed.every((f) => isRetryableNatsError(f.error))) {
      // The server or the link is down, not the records: the batch is tried again whole.
      const first = failed[0]!.error;
      throw sinkFailure(
        'nats-jetstream',
        `${failed.length} of ${records.length} publishes to ${subject} failed`,
        first,
        {
          retryable: true,
        },
      );
    }
    // The others are stored: only these are tried again or dead-lettered, each for its own error
    // (a message over max_payload, an id a header cannot carry, a publish that timed out). Each
    // publish already stands alone: splitting the batch further would find nothing more.
    return {
      failed: failed.map(({ index, error }) => ({
        index,
        error: sinkFailure(
          'nats-jetstream',
          `publish of record ${JSON.stringify(records[index]!.id)} to ${subject} failed`,
          error,
          {
            retryable: isRetryableNatsError(error),
            perRecord: true,
          },
        ),
      })),
    };
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#js = undefined;
    await nc?.close();
  }
}
