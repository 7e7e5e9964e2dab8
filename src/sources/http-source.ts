import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { JsonScanner, SCAN_OK } from '../codec/json-scan.js';
import { prepareRaw } from '../codec/record-codec.js';
import { InvalidOptionError, RecordTooLargeError } from '../errors.js';
import type { RawRecord } from '../queue/producer.js';
import { LineRun } from '../queue/record-run.js';
import { ByteBudget } from './byte-budget.js';
import { type ContentDecoding, contentDecoding, DECODABLE_CODINGS } from './content-decoding.js';
import { answerEarly, type DiscardLimits, type Reply, send } from './http-reply.js';
import { lineBatch, splitLines } from './ndjson-lines.js';
import { readBody } from './read-body.js';
import { RunOnceSource, type SourceTarget } from './source.js';

export interface HttpSourceOptions {
  /** Address to bind. @default '127.0.0.1' — not reachable from other machines unless asked for */
  host?: string;
  /** 0 picks a free port (read it from `url`). @default 8080 */
  port?: number;
  /** The one path that takes events. @default '/ingest' */
  path?: string;
  /** When set, requests must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /**
   * Larger bodies are refused with 413, no more of them held than this, bytes. A compressed body
   * is held to it twice: as received, and as decoded (its decoding stops there).
   * @default 10 MiB
   */
  maxBodyBytes?: number;
  /**
   * Bytes of request bodies read or held at once, all requests together (decoded bytes, for a
   * compressed body); a body is held until its events are pushed. A request that would pass it is
   * answered 503 with Retry-After: before its body is read when it declares an uncompressed length,
   * else as soon as what it read passes it. At least maxBodyBytes, so any body within that limit
   * can be taken alone.
   * @default 4 × maxBodyBytes
   */
  maxInFlightBytes?: number;
  /** When the ring is full, how long a request waits for room before a 429, ms. @default 0 */
  fullWaitMs?: number;
}

/** maxInFlightBytes, when not given, is this many bodies of maxBodyBytes. */
export const DEFAULT_IN_FLIGHT_BODIES = 4;

export const DEFAULT_HTTP_SOURCE_OPTIONS: Readonly<
  Required<Omit<HttpSourceOptions, 'token' | 'maxInFlightBytes'>>
> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  path: '/ingest',
  maxBodyBytes: 10 * 1024 * 1024,
  fullWaitMs: 0,
});

/**
 * What the HTTP source needs beyond a plain source: the queue figures (to refuse with 429 rather
 * than wait on a full ring) and `settled()` (for `?ack=sink`).
 */
export type HttpSourceTarget = SourceTarget;

/** Seconds a client is told to wait after a 429 or a 503. */
const RETRY_AFTER_SECONDS = 1;
/** A refused body is read and dropped up to this many bytes (or maxBodyBytes, if more) so its client sees the answer. */
const MIN_DISCARD_BYTES = 16 * 1024 * 1024;
/** …and for at most this long, ms: a client trickling a refused body does not keep its connection. */
const DISCARD_MS = 10_000;
/** How often a request waiting for room (fullWaitMs) looks at the ring again, ms. */
const ROOM_POLL_MS = 5;
/** A chunk pushed at once is at most this share of a partition's ring (see #pushAll). */
const CHUNK_SHARE_OF_RING = 16;
/** Keys that could reach an object's prototype when a consumer merges the event. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** The same keys as they appear in JSON text: an element without any of them is taken as it is. */
const FORBIDDEN_KEYS_TEXT = [...FORBIDDEN_KEYS].map((key) => Buffer.from(`"${key}"`));
const OPEN_BRACKET = 0x5b;
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** One request and its response, as the steps of handling it share them. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** Answers before the body was read to its end (see answerEarly). */
  early(reply: Reply): void;
  /** Tells a client waiting on `Expect: 100-continue` to send its body; nothing otherwise. */
  proceed(): void;
}

class HttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * `POST <path>` with an NDJSON body (`application/x-ndjson`, pushed raw — parsed in the workers,
 * a malformed line dead-lettered there as `invalid-json`) or a JSON array (`application/json`,
 * parsed here to split it, keys that reach a prototype dropped, each element re-serialised and
 * pushed raw). Answers `200 { accepted }` once the events are in the ring — with `?ack=sink`, once
 * they are written or dead-lettered. A full ring is answered `429 { accepted, rejected }` with
 * `Retry-After`: the accepted events are the body's first `accepted`, in order, and stay accepted;
 * the client resends the rest. Under `queue.policy: drop-oldest` an accepted event may still be
 * discarded (counted) before a worker takes it; `?ack=sink` then answers for it too.
 *
 * A body sent with `Content-Encoding: gzip`, `x-gzip`, `deflate` or `br` is decoded as it arrives
 * (another coding: 415; a corrupt stream: 400). Bodies being read or pushed hold at most
 * maxInFlightBytes together; past it a request is answered `503` with `Retry-After` — a 503 rather
 * than a 429 because nothing of the body was taken and it is the server, not the client's rate,
 * that is short: a 429 from this source always means the ring is full and says what it accepted.
 * On stop, and when a client goes away, nothing a request waits on is waited for any longer: a
 * request still waiting is answered `503 { error: 'shutting down' }`, with `accepted` (and
 * `rejected`) when some of it went in — accepted events stay accepted, and under `?ack=sink` they
 * may or may not be written before the pipeline closes.
 */
export class HttpSource extends RunOnceSource<HttpSourceTarget> {
  readonly #host: string;
  readonly #port: number;
  readonly #path: string;
  readonly #token: Buffer | undefined;
  readonly #maxBodyBytes: number;
  readonly #budget: ByteBudget;
  readonly #discard: DiscardLimits;
  readonly #fullWaitMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  /** Each request's own abort (see #openRequest), aborted all at once when the source stops. */
  readonly #requests = new Set<AbortController>();
  readonly #listening: Promise<string>;
  #bound!: (url: string) => void;
  #unbound!: (error: unknown) => void;
  #url: string | undefined;
  #accepted = 0;

  constructor(options: HttpSourceOptions = {}) {
    super();
    const o = { ...DEFAULT_HTTP_SOURCE_OPTIONS, ...options };
    if (typeof o.host !== 'string' || o.host === '')
      throw new InvalidOptionError('source.host', 'a host name or address', o.host);
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
      throw new InvalidOptionError('source.port', 'a port from 0 to 65535', o.port);
    if (typeof o.path !== 'string' || !o.path.startsWith('/'))
      throw new InvalidOptionError('source.path', 'a path starting with "/"', o.path);
    if (o.token !== undefined && (typeof o.token !== 'string' || o.token === ''))
      throw new InvalidOptionError('source.token', 'a non-empty string', o.token);
    if (!Number.isSafeInteger(o.maxBodyBytes) || o.maxBodyBytes < 1)
      throw new InvalidOptionError('source.maxBodyBytes', 'a positive integer of bytes', o.maxBodyBytes);
    const maxInFlightBytes = o.maxInFlightBytes ?? DEFAULT_IN_FLIGHT_BODIES * o.maxBodyBytes;
    if (!Number.isSafeInteger(maxInFlightBytes) || maxInFlightBytes < o.maxBodyBytes) {
      throw new InvalidOptionError(
        'source.maxInFlightBytes',
        `an integer of bytes ≥ maxBodyBytes (${o.maxBodyBytes})`,
        maxInFlightBytes,
      );
    }
    if (!Number.isSafeInteger(o.fullWaitMs) || o.fullWaitMs < 0)
      throw new InvalidOptionError('source.fullWaitMs', 'an integer of milliseconds ≥ 0', o.fullWaitMs);
    this.#host = o.host;
    this.#port = o.port;
    this.#path = o.path;
    this.#token = o.token === undefined ? undefined : digest(o.token);
    this.#maxBodyBytes = o.maxBodyBytes;
    this.#budget = new ByteBudget(maxInFlightBytes);
    this.#discard = { bytes: Math.max(o.maxBodyBytes, MIN_DISCARD_BYTES), ms: DISCARD_MS };
    this.#fullWaitMs = o.fullWaitMs;
    this.#listening = new Promise<string>((resolve, reject) => {
      this.#bound = resolve;
      this.#unbound = reject;
    });
    // Nobody may be awaiting it yet; a failed listen is also reported by start().
    this.#listening.catch(() => undefined);
  }

  /** Events the pipeline accepted so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Bytes of request bodies being read or held now; never more than maxInFlightBytes. */
  get inFlightBytes(): number {
    return this.#budget.held;
  }

  /** Requests being handled now: read, pushed, or waiting on ?ack=sink. */
  get inFlightRequests(): number {
    return this.#inFlight.size;
  }

  /** Resolves with the bound URL (e.g. http://127.0.0.1:41234) once listening; rejects if binding failed. */
  listening(): Promise<string> {
    return this.#listening;
  }

  /** The bound URL; undefined until listening. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Serves until `signal` aborts or stop(); resolves once the server is closed and no request is being handled. */
  protected async run(target: HttpSourceTarget, signal: AbortSignal): Promise<void> {
    const serve = (req: IncomingMessage, res: ServerResponse, awaitingContinue: boolean) => {
      const handling = this.#handle(target, signal, req, res, awaitingContinue).catch((error: unknown) => {
        target.logger.error({ err: error }, 'http source request failed');
        if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      });
      this.#inFlight.add(handling);
      handling.finally(() => this.#inFlight.delete(handling));
    };
    // One listener for every request: an AbortSignal warns past ten listeners.
    signal.addEventListener(
      'abort',
      () => {
        for (const request of this.#requests) request.abort();
      },
      { once: true },
    );
    const server = createServer((req, res) => serve(req, res, false));
    // `Expect: 100-continue` (curl's way with a large body): 100 Continue is sent only once the
    // request passed every check that needs no body, so a refused client never sends its body.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => serve(req, res, true));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#port, this.#host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.#unbound(error);
      throw error;
    }
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `http://${host}:${address.port}`;
    this.#bound(this.#url);
    target.logger.info({ url: this.#url, path: this.#path }, 'http source listening');
    if (!signal.aborted) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await this.#close(server);
  }

  /** Stops accepting connections, lets the requests being handled finish, then closes the rest. */
  async #close(server: Server): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // The signal aborted, so no handler waits any longer on a body, room, a push or the sink
    // (#openRequest): each answers and ends, and none is left behind.
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    server.closeAllConnections();
    await closed;
  }

  async #handle(
    target: HttpSourceTarget,
    signal: AbortSignal,
    req: IncomingMessage,
    res: ServerResponse,
    expectsContinue: boolean,
  ): Promise<void> {
    let awaitingContinue = expectsContinue;
    const exchange: Exchange = {
      req,
      res,
      early: (reply) => answerEarly(req, res, reply, this.#discard, awaitingContinue),
      proceed: () => {
        if (awaitingContinue) res.writeContinue();
        awaitingContinue = false;
      },
    };
    const early = exchange.early;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== this.#path) return early({ status: 404, body: { error: 'not found' } });
    if (req.method !== 'POST') {
      return early({ status: 405, body: { error: 'method not allowed' }, headers: { allow: 'POST' } });
    }
    if (!this.#authorised(req.headers.authorization)) {
      return early({
        status: 401,
        body: { error: 'missing or wrong bearer token' },
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
    if (signal.aborted) return early({ status: 503, body: { error: 'shutting down' } });
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const ndjson = type === 'application/x-ndjson' || type === 'application/ndjson';
    if (!ndjson && type !== 'application/json') {
      return early({
        status: 415,
        body: {
          error: `content-type must be application/x-ndjson or application/json, got ${type || 'none'}`,
        },
      });
    }
    const decoding = contentDecoding(req.headers['content-encoding']);
    if (decoding.kind === 'unsupported') {
      return early({
        status: 415,
        body: { error: `content-encoding must be ${DECODABLE_CODINGS}, got ${decoding.value}` },
      });
    }
    // Received bytes are held to the limit too, so a declared length over it is refused at once.
    if (Number(req.headers['content-length']) > this.#maxBodyBytes) return early(this.#tooLarge());
    const request = this.#openRequest(signal, res);
    try {
      const accepted = await this.#receive(target, signal, request.signal, exchange, {
        ndjson,
        decoding,
        label: `POST ${url.pathname}`,
      });
      if (accepted === undefined) return;
      // settled(): what this source pushed is written or dead-lettered (drained() would also wait
      // for producer threads' pushes, which the client did not send).
      if (
        url.searchParams.get('ack') === 'sink' &&
        !(await unlessAborted(target.settled(), request.signal))
      ) {
        if (!signal.aborted) {
          target.logger.info({ accepted }, 'http source client left before its ack');
          return;
        }
        return send(res, {
          status: 503,
          body: {
            error: 'shutting down',
            accepted,
            note: 'the accepted events stay accepted; they may or may not be written before the pipeline closes',
          },
        });
      }
      send(res, { status: 200, body: { accepted } });
    } finally {
      request.dispose();
    }
  }

  /**
   * Reads the body, within maxBodyBytes and the in-flight budget, splits it and pushes it. Returns
   * how many events were accepted once all were; otherwise answers the client itself (a refusal,
   * a ring that stayed full, a stop) or leaves a client that went away unanswered, and returns
   * undefined. What the body held of the budget is given back before it returns.
   */
  async #receive(
    target: HttpSourceTarget,
    signal: AbortSignal,
    request: AbortSignal,
    { req, res, early, proceed }: Exchange,
    body: { ndjson: boolean; decoding: ContentDecoding; label: string },
  ): Promise<number | undefined> {
    const hold = this.#budget.hold();
    try {
      const declared = Number(req.headers['content-length']);
      // An uncompressed body of declared length takes all of it up front: refused before it is read.
      if (body.decoding.kind === 'identity' && declared > 0 && !hold.growTo(declared)) {
        this.#busy(target, early);
        return undefined;
      }
      proceed();
      const outcome = await readBody(req, body.decoding, {
        maxBytes: this.#maxBodyBytes,
        hold,
        signal: request,
      });
      switch (outcome.kind) {
        case 'aborted':
          if (signal.aborted) early({ status: 503, body: { error: 'shutting down', accepted: 0 } });
          return undefined;
        case 'too-large':
          early(this.#tooLarge());
          return undefined;
        case 'over-budget':
          this.#busy(target, early);
          return undefined;
        case 'corrupt':
          early({ status: 400, body: { error: outcome.message } });
          return undefined;
      }
      let events: BodyEvents;
      try {
        // Each event's source says where it was in the body, so a malformed one's dead letter says
        // too. Every event is sized before anything is pushed, so a 413 for one record means none
        // of the body went in.
        const maxRecordBytes = target.options.queue.maxRecordBytes;
        events = body.ndjson
          ? lineEvents(outcome.body, body.label, maxRecordBytes)
          : elementEvents(outcome.body, body.label, maxRecordBytes);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        send(res, { status: error.status, body: { error: error.message } });
        return undefined;
      }
      const accepted = await this.#pushAll(target, request, events);
      this.#accepted += accepted;
      const rejected = events.length - accepted;
      if (rejected === 0) return accepted;
      if (!signal.aborted && request.aborted) {
        target.logger.info({ accepted, rejected }, 'http source client left before its answer');
        return undefined;
      }
      target.logger.warn({ accepted, rejected }, 'http source ring full, request partly refused');
      send(res, {
        status: signal.aborted ? 503 : 429,
        body: signal.aborted ? { error: 'shutting down', accepted, rejected } : { accepted, rejected },
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      });
      return undefined;
    } finally {
      hold.release();
    }
  }

  /** Refuses a body that would take the source past maxInFlightBytes. */
  #busy(target: HttpSourceTarget, early: (reply: Reply) => void): void {
    target.logger.warn(
      { inFlightBytes: this.#budget.held, maxInFlightBytes: this.#budget.limit },
      'http source bodies in flight at their limit, request refused',
    );
    early(BUSY);
  }

  /**
   * A signal that aborts when the source stops or the client goes away before its answer is
   * written, so that nothing a request waits on — its body, room in the ring, a push, the sink —
   * holds the source's stop or outlives its client. dispose() forgets it once the request is done.
   */
  #openRequest(stopping: AbortSignal, res: ServerResponse): { signal: AbortSignal; dispose(): void } {
    const controller = new AbortController();
    if (stopping.aborted) controller.abort();
    this.#requests.add(controller);
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    return { signal: controller.signal, dispose: () => this.#requests.delete(controller) };
  }

  #tooLarge(): Reply {
    return { status: 413, body: { error: `body larger than ${this.#maxBodyBytes} bytes` } };
  }

  /**
   * Compares digests of the tokens in constant time: equal lengths whatever was sent, so neither
   * the content nor the length of the token leaks through the response time.
   */
  #authorised(header: string | undefined): boolean {
    if (this.#token === undefined) return true;
    const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
    return match !== null && timingSafeEqual(digest(match[1]!), this.#token);
  }

  /**
   * Pushes `events` in order, a chunk at a time, each only once the ring has room for it, so a push
   * never waits on a full ring behind a stalled sink. Returns how many were accepted: a prefix of
   * `events`. Fewer than all when the ring stayed full past fullWaitMs, or `signal` aborted (the
   * source is stopping, or the client went away).
   */
  async #pushAll(target: HttpSourceTarget, signal: AbortSignal, events: BodyEvents): Promise<number> {
    // capacityBytes is per partition ring.
    const { capacityBytes, maxRecordBytes } = target.options.queue;
    const chunkBytes = Math.max(maxRecordBytes, capacityBytes / CHUNK_SHARE_OF_RING);
    let accepted = 0;
    let i = 0;
    while (i < events.length) {
      let end = i;
      let needed = 0;
      while (end < events.length) {
        const size = events.size(end);
        if (end > i && needed + size > chunkBytes) break;
        needed += size;
        end++;
      }
      // Twice the chunk: a group that does not fit before the ring's end is padded to it and
      // written at the start, and that padding is smaller than the group.
      if (!(await this.#waitForRoom(target, signal, 2 * needed))) break;
      let pushed: number;
      try {
        // Room was there when looked at, but another producer may have taken it since: then the
        // push waits, and a stop must not wait with it.
        const push = events.push(target, i, end);
        const settled = await unlessAborted(push, signal);
        if (settled === undefined) {
          // Whether the pipeline takes this chunk is not known yet, so the client is told none of
          // it was accepted: a resend may duplicate it, never lose it. Counted once it is known.
          push.then(
            (late) => {
              this.#accepted += late;
            },
            () => undefined,
          );
          break;
        }
        pushed = settled.value;
      } catch (error) {
        // The reject policy refused mid-chunk: how much of the chunk got in is unknown, so none of
        // it is reported accepted — the client's resend may duplicate some, never lose any.
        if ((error as { code?: unknown }).code === 'SLUICE_QUEUE_FULL') break;
        throw error;
      }
      accepted += pushed;
      // A drop policy discarded some: stop here, the rest is refused rather than dropped too.
      if (pushed < end - i) break;
      i = end;
    }
    return accepted;
  }

  /** True once the ring has `bytes` free; false if it did not within fullWaitMs or `signal` aborted. */
  async #waitForRoom(target: HttpSourceTarget, signal: AbortSignal, bytes: number): Promise<boolean> {
    const deadline = performance.now() + this.#fullWaitMs;
    for (;;) {
      if (signal.aborted) return false;
      // Key-less events of one push go to one ring, picked at the push: room in each is needed.
      const rings = target.stats().partitions;
      if (rings.every((ring) => ring.capacityBytes - ring.depthBytes >= bytes)) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // Room appears when a worker releases a batch, which this thread hears of through no event.
      await sleep(Math.min(ROOM_POLL_MS, left), undefined, { signal }).catch(() => undefined);
    }
  }
}

/** The answer to a request whose body would take the source past maxInFlightBytes. */
const BUSY: Reply = {
  status: 503,
  body: { error: 'too many request bodies in flight, retry later' },
  headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
};

/** `{ value }` once `promise` resolves, or undefined as soon as `signal` aborts; rejects as `promise` does. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<{ value: T } | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ value });
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * A body's events, to push in order a chunk at a time: how many there are, each one's size in the
 * ring (what the producer will reserve: header, generated id, source, payload, aligned), and the
 * push of events [from, to).
 */
interface BodyEvents {
  readonly length: number;
  size(i: number): number;
  push(target: HttpSourceTarget, from: number, to: number): Promise<number>;
}

/** The 413 for event `index` of a body, larger than the ring's largest record. */
function tooLargeEvent(index: number, maxRecordBytes: number): HttpError {
  return new HttpError(413, `event ${index} is larger than queue.maxRecordBytes (${maxRecordBytes})`);
}

/**
 * An NDJSON body's non-blank lines, each without its CR and not parsed, pushed as lines lying in
 * the body (pushLines: no object per line). Each one's source is `<label> line <n>`, counting every
 * line of the body from 1, blank ones included.
 */
function lineEvents(body: Buffer, label: string, maxRecordBytes: number): BodyEvents {
  const lines = splitLines(body);
  const naming = { sourcePrefix: `${label} line ` };
  const count = lines.starts.length;
  let run: LineRun;
  try {
    run = new LineRun(lineBatch(lines, 0, count, naming), maxRecordBytes);
  } catch (error) {
    if (!(error instanceof RecordTooLargeError)) throw error;
    // The run stops at the first line too large; which one it was is for the answer to say.
    for (let i = 0; i < count; i++) {
      try {
        new LineRun(lineBatch(lines, i, i + 1, naming), maxRecordBytes);
      } catch (lineError) {
        if (lineError instanceof RecordTooLargeError) throw tooLargeEvent(i, maxRecordBytes);
        throw lineError;
      }
    }
    throw error;
  }
  return {
    length: count,
    size: (i) => run.size(i),
    push: (target, from, to) => target.pushLines(lineBatch(lines, from, to, naming)),
  };
}

/** A JSON array body's elements (splitArray), each pushed as a raw record of its own. */
function elementEvents(body: Buffer, label: string, maxRecordBytes: number): BodyEvents {
  const records = splitArray(body, label);
  const sizes = records.map((record, index) => {
    try {
      return prepareRaw(record.data, undefined, maxRecordBytes, undefined, record.source).size;
    } catch (error) {
      if (error instanceof RecordTooLargeError) throw tooLargeEvent(index, maxRecordBytes);
      throw error;
    }
  });
  return {
    length: records.length,
    size: (i) => sizes[i]!,
    push: (target, from, to) => target.pushRawRecords(records.slice(from, to)),
  };
}

/**
 * A JSON array's elements, each as the bytes it was sent as — numbers exact, nothing re-serialised
 * — found by one scan of the body (JsonScanner), never parsed here. An element holding a
 * `__proto__`, `constructor` or `prototype` key is the exception: it is parsed and written again
 * without those keys, which could reach an object's prototype when a consumer merges the event.
 * Each one's source is `<label> element <n>`, from 1.
 */
function splitArray(body: Buffer, label: string): RawRecord[] {
  const elements: number[] = [];
  // Depth is not limited here: an element nested too deep is the workers' to dead-letter alone.
  const result = new JsonScanner().scan(body, 0, body.length, Number.MAX_SAFE_INTEGER, false, elements);
  if (result !== SCAN_OK) {
    let message = 'not valid JSON';
    try {
      JSON.parse(body.toString('utf8'));
    } catch (error) {
      message = (error as Error).message;
    }
    throw new HttpError(400, `body is not valid JSON: ${message}`);
  }
  // Valid JSON: its first byte past the whitespace says what it is.
  let first = 0;
  while (first < body.length && JSON_SPACE.has(body[first]!)) first++;
  if (body[first] !== OPEN_BRACKET) {
    throw new HttpError(400, 'an application/json body must be an array of events');
  }
  const records: RawRecord[] = [];
  for (let i = 0; i < elements.length; i += 2) {
    let data = body.subarray(elements[i]!, elements[i + 1]!);
    if (FORBIDDEN_KEYS_TEXT.some((key) => data.includes(key))) {
      const cleaned = JSON.parse(data.toString('utf8'), (key, value: unknown) =>
        FORBIDDEN_KEYS.has(key) ? undefined : value,
      ) as unknown;
      data = Buffer.from(JSON.stringify(cleaned) ?? 'null');
    }
    records.push({ data, source: `${label} element ${i / 2 + 1}` });
  }
  return records;
}
