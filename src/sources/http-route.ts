import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type ContentDecoding, contentDecoding, DECODABLE_CODINGS } from './content-decoding.js';
import { bodyTooLarge, type Reply } from './http-reply.js';

/** What a request must be to be taken: its path, its token (as a digest), its body's size. */
export interface Route {
  path: string;
  /** The bearer token's digest (tokenDigest); undefined: no token asked for. */
  token: Buffer | undefined;
  maxBodyBytes: number;
}

/** A request that passed every check that needs no body: how to read its body and answer it. */
export interface RoutedRequest {
  /** NDJSON lines, else a JSON array. */
  ndjson: boolean;
  decoding: ContentDecoding;
  /** `POST <path>`: the start of every event's source. */
  label: string;
  /** `?ack=sink`: answered once the events are written or dead-lettered. */
  ackOnSink: boolean;
}

/**
 * Checks a request before its body is read — path, method, token, whether the source is stopping,
 * content type and coding, declared length — and says how to take it, or the reply that refuses it.
 */
export function routeRequest(req: IncomingMessage, route: Route, stopping: boolean): RoutedRequest | Reply {
  const target = req.url ?? '/';
  const url = URL.canParse(target, 'http://localhost') ? new URL(target, 'http://localhost') : null;
  // node:http passes on targets such as `//` that no URL can be made of: no path, so not ours.
  if (url === null || url.pathname !== route.path) return { status: 404, body: { error: 'not found' } };
  if (req.method !== 'POST') {
    return { status: 405, body: { error: 'method not allowed' }, headers: { allow: 'POST' } };
  }
  if (!authorised(route.token, req.headers.authorization)) {
    return {
      status: 401,
      body: { error: 'missing or wrong bearer token' },
      headers: { 'www-authenticate': 'Bearer' },
    };
  }
  if (stopping) return { status: 503, body: { error: 'shutting down' } };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const ndjson = type === 'application/x-ndjson' || type === 'application/ndjson';
  if (!ndjson && type !== 'application/json') {
    return {
      status: 415,
      body: {
        error: `content-type must be application/x-ndjson or application/json, got ${type || 'none'}`,
      },
    };
  }
  const decoding = contentDecoding(req.headers['content-encoding']);
  if (decoding.kind === 'unsupported') {
    return {
      status: 415,
      body: { error: `content-encoding must be ${DECODABLE_CODINGS}, got ${decoding.value}` },
    };
  }
  // Received bytes are held to the limit too, so a declared length over it is refused at once.
  if (Number(req.headers['content-length']) > route.maxBodyBytes) return bodyTooLarge(route.maxBodyBytes);
  return {
    ndjson,
    decoding,
    label: `POST ${url.pathname}`,
    ackOnSink: url.searchParams.get('ack') === 'sink',
  };
}

/** Whether routeRequest's answer refuses the request. */
export function isRefusal(routed: RoutedRequest | Reply): routed is Reply {
  return 'status' in routed;
}

/** What a bearer token is compared as: its SHA-256, so that every comparison is of equal length. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Compares digests of the tokens in constant time: equal lengths whatever was sent, so neither
 * the content nor the length of the token leaks through the response time.
 */
function authorised(token: Buffer | undefined, header: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(tokenDigest(match[1]!), token);
}
