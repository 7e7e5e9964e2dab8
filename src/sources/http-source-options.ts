import { InvalidOptionError } from '../errors.js';

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
  /**
   * When the ring is full, how long a request waits for room before a 429, ms. A short wait
   * serves clients that retry a 429 at once, ignoring Retry-After (load tools, naive scripts),
   * far better than refusing at once: measured with such clients, 250 ms accepted about twice
   * as many events a second as 0 at half the CPU per event (docs/MEASUREMENTS.md). 0 refuses at
   * once. @default 250
   */
  fullWaitMs?: number;
  /**
   * A request whose body sends nothing for this long is answered 408 and its connection closed,
   * ms: what it held of maxInFlightBytes (its declared length, taken before it is read) is free
   * again. Without it, a few clients declaring large bodies and sending nothing would keep every
   * other request at 503 for as long as they like. @default 10000
   */
  bodyIdleMs?: number;
}

/** The longest a Node timer waits (2^31 − 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/** maxInFlightBytes, when not given, is this many bodies of maxBodyBytes. */
export const DEFAULT_IN_FLIGHT_BODIES = 4;

export const DEFAULT_HTTP_SOURCE_OPTIONS: Readonly<
  Required<Omit<HttpSourceOptions, 'token' | 'maxInFlightBytes'>>
> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  path: '/ingest',
  maxBodyBytes: 10 * 1024 * 1024,
  fullWaitMs: 250,
  bodyIdleMs: 10_000,
});

/** Every option checked, the defaults filled in; the token is still optional. */
export type ResolvedHttpSourceOptions = Required<Omit<HttpSourceOptions, 'token'>> &
  Pick<HttpSourceOptions, 'token'>;

/** Merges `options` over the defaults and checks every field: a typed error naming the first bad one. */
export function resolveHttpSourceOptions(options: HttpSourceOptions): ResolvedHttpSourceOptions {
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
  if (!Number.isSafeInteger(o.bodyIdleMs) || o.bodyIdleMs < 1 || o.bodyIdleMs > MAX_TIMER_MS)
    throw new InvalidOptionError(
      'source.bodyIdleMs',
      `an integer of milliseconds from 1 to ${MAX_TIMER_MS}`,
      o.bodyIdleMs,
    );
  return { ...o, maxInFlightBytes };
}
