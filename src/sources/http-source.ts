import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, SourceError } from '../errors.js';
import { ByteBudget } from './byte-budget.js';
import { stoppedBeforeWritten, whenWritten } from './http-ack.js';
import { type BodyEvents, bodyEvents } from './http-body-events.js';
import { pushWithRoom } from './http-push.js';
import {
  answerEarly,
  BUSY,
  bodyTooLarge,
  type DiscardLimits,
  RETRY_AFTER_SECONDS,
  type Reply,
  send,
} from './http-reply.js';
import { isRefusal, type Route, type RoutedRequest, routeRequest, tokenDigest } from './http-route.js';
import { RequestServer } from './http-server.js';
import { type HttpSourceOptions, resolveHttpSourceOptions } from './http-source-options.js';
import { readBody } from './read-body.js';
import { RetryAfter } from './retry-after.js';
import { type SourceTarget, StoppableSource } from './source.js';

export {
  DEFAULT_HTTP_SOURCE_OPTIONS,
  DEFAULT_IN_FLIGHT_BODIES,
  type HttpSourceOptions,
} from './http-source-options.js';

/**
 * What the HTTP source pushes into: a plain SourceTarget, whose queue figures and ring stats let it
 * refuse with 429 rather than wait on a full ring, and whose `settled()` answers `?ack=sink`.
 */
export type HttpSourceTarget = SourceTarget;

/** A refused body is read and dropped up to this many bytes (or maxBodyBytes, if more) so its client sees the answer. */
const MIN_DISCARD_BYTES = 16 * 1024 * 1024;
/** …and for at most this long, ms: a client trickling a refused body does not keep its connection. */
const DISCARD_MS = 10_000;

/** One request and its response, as the steps of handling it share them. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** Answers before the body was read to its end (see answerEarly). */
  early(reply: Reply): void;
  /** Tells a client waiting on `Expect: 100-continue` to send its body; nothing otherwise. */
  proceed(): void;
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
export class HttpSource extends StoppableSource<HttpSourceTarget> {
  readonly #host: string;
  readonly #port: number;
  readonly #route: Route;
  readonly #maxBodyBytes: number;
  readonly #budget: ByteBudget;
  readonly #discard: DiscardLimits;
  readonly #fullWaitMs: number;
  readonly #bodyIdleMs: number;
  #server: RequestServer | undefined;
  /** Each request's own abort (see #openRequest), aborted all at once when the source stops. */
  readonly #requests = new Set<AbortController>();
  readonly #listening: Promise<string>;
  #bound!: (url: string) => void;
  #unbound!: (error: unknown) => void;
  #url: string | undefined;
  #accepted = 0;
  /** Retry-After for a full ring, from the ring's release rate (set once the source runs). */
  #retryAfter: RetryAfter | undefined;

  constructor(options: HttpSourceOptions = {}) {
    super();
    const o = resolveHttpSourceOptions(options);
    this.#host = o.host;
    this.#port = o.port;
    this.#route = {
      path: o.path,
      token: o.token === undefined ? undefined : tokenDigest(o.token),
      maxBodyBytes: o.maxBodyBytes,
    };
    this.#maxBodyBytes = o.maxBodyBytes;
    this.#budget = new ByteBudget(o.maxInFlightBytes);
    this.#discard = { bytes: Math.max(o.maxBodyBytes, MIN_DISCARD_BYTES), ms: DISCARD_MS };
    this.#fullWaitMs = o.fullWaitMs;
    this.#bodyIdleMs = o.bodyIdleMs;
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
    return this.#server?.inFlight ?? 0;
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
    this.#retryAfter = new RetryAfter(() => target.stats().partitions);
    // One listener for every request: an AbortSignal warns past ten listeners.
    signal.addEventListener(
      'abort',
      () => {
        for (const request of this.#requests) request.abort();
      },
      { once: true },
    );
    const server = new RequestServer(
      (req, res, awaitingContinue) => this.#handle(target, signal, req, res, awaitingContinue),
      target.logger,
    );
    this.#server = server;
    try {
      this.#url = await server.listen(this.#port, this.#host);
    } catch (error) {
      // A port in use or an address not on this machine: the source could not be opened (exit 69).
      const failure = new SourceError(
        `http source: cannot listen on ${this.#host}:${this.#port}: ${(error as Error).message}`,
        { cause: error },
      );
      this.#unbound(failure);
      throw failure;
    }
    this.#bound(this.#url);
    target.logger.info({ url: this.#url, path: this.#route.path }, 'http source listening');
    if (!signal.aborted) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    // The signal aborted, so no handler waits any longer on a body, room, a push or the sink
    // (#openRequest): each answers and ends, and the server's close waits for them.
    await server.close();
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
    const routed = routeRequest(req, this.#route, signal.aborted);
    if (isRefusal(routed)) return exchange.early(routed);
    const request = this.#openRequest(signal, res);
    try {
      const accepted = await this.#receive(target, signal, request.signal, exchange, routed);
      if (accepted === undefined) return;
      if (routed.ackOnSink && !(await whenWritten(target, request.signal))) {
        if (!signal.aborted) {
          target.logger.info({ accepted }, 'http source client left before its ack');
          return;
        }
        return send(res, stoppedBeforeWritten(accepted));
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
    body: RoutedRequest,
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
        idleMs: this.#bodyIdleMs,
      });
      switch (outcome.kind) {
        case 'aborted':
          if (signal.aborted) early({ status: 503, body: { error: 'shutting down', accepted: 0 } });
          return undefined;
        case 'too-large':
          early(bodyTooLarge(this.#maxBodyBytes));
          return undefined;
        case 'idle':
          target.logger.warn(
            { bodyIdleMs: this.#bodyIdleMs },
            'http source: a request body sent nothing for bodyIdleMs',
          );
          // Nothing more is read from it: with Connection: close, node:http ends the socket.
          send(res, {
            status: 408,
            headers: { connection: 'close' },
            body: {
              error: `the request body sent nothing for ${this.#bodyIdleMs} ms (source.bodyIdleMs)`,
              accepted: 0,
            },
          });
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
        events = bodyEvents(outcome.body, body.ndjson, body.label, maxRecordBytes);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        send(res, { status: error.status, body: { error: error.message } });
        return undefined;
      }
      const accepted = await pushWithRoom(target, request, events, this.#fullWaitMs, (late) => {
        this.#accepted += late;
      });
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
        headers: { 'retry-after': String(this.#retryAfter?.seconds(rejected) ?? RETRY_AFTER_SECONDS) },
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
}
