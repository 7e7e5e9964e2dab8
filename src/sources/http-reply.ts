import type { IncomingMessage, ServerResponse } from 'node:http';

/** A response: status, JSON body, extra headers. */
export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** How much of a refused body is read and dropped, so that its client reads the answer. */
export interface DiscardLimits {
  /** Bytes read and dropped at most; a body declared longer is not read at all. */
  bytes: number;
  /** Time spent reading and dropping at most, ms. */
  ms: number;
}

/** Seconds a client is told to wait after a 503 (after a 429 for a full ring: see RetryAfter). */
export const RETRY_AFTER_SECONDS = 1;

/** The answer to a body over maxBodyBytes. */
export function bodyTooLarge(maxBodyBytes: number): Reply {
  return { status: 413, body: { error: `body larger than ${maxBodyBytes} bytes` } };
}

/** The answer to a request whose body would take the source past maxInFlightBytes. */
export const BUSY: Reply = {
  status: 503,
  body: { error: 'too many request bodies in flight, retry later' },
  headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
};

/** Writes `reply` as the whole response: its status, its body as JSON, never cached. */
export function send(res: ServerResponse, reply: Reply): void {
  const body = `${JSON.stringify(reply.body)}\n`;
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...reply.headers,
  });
  res.end(body);
}

/**
 * Answers a request whose body was not read to its end, then reads and drops the rest as the client
 * sends it. Closing a socket with unread bytes in it makes the kernel reset the connection, and a
 * client still sending its body would see that reset instead of the answer; draining the body lets
 * the answer arrive, and the connection stays usable. Past `limits` the connection is destroyed.
 * A body declared longer than `limits.bytes` is answered with `Connection: close` and not read, and
 * so is a body its client holds back until told `100 Continue` (`awaitingContinue`).
 */
export function answerEarly(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  limits: DiscardLimits,
  awaitingContinue: boolean,
): void {
  const declared = Number(req.headers['content-length']);
  if (awaitingContinue || (Number.isFinite(declared) && declared > limits.bytes)) {
    // With Connection: close, node:http ends the socket once the answer is written.
    send(res, { ...reply, headers: { ...reply.headers, connection: 'close' } });
    return;
  }
  // A client that asked to close (or speaks HTTP/1.0) would have its connection destroyed by
  // node:http as soon as the answer is written, unread rest and all: it is kept open instead, the
  // answer sent without a Connection header, and the socket ended here once the rest was read.
  const closeAfter = !res.shouldKeepAlive;
  if (closeAfter) {
    res.shouldKeepAlive = true;
    res.removeHeader('connection');
  }
  send(res, reply);
  discardRest(req, limits, closeAfter);
}

/** Reads what is left of `req` and drops it, then ends the socket if `closeAfter`; destroys it past `limits`. */
function discardRest(req: IncomingMessage, limits: DiscardLimits, closeAfter: boolean): void {
  const socket = req.socket;
  if (req.readableEnded || req.destroyed) {
    if (closeAfter) socket.end();
    return;
  }
  let left = limits.bytes;
  const cutOff = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(cutOff, limits.ms);
  // The process need not stay up to drain a refused body.
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) cutOff();
  });
  req.once('end', () => {
    clearTimeout(timer);
    if (closeAfter) socket.end();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
