import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** A zlib decoder: `bytesWritten` counts the input it has consumed. */
export type Decoder = Transform & { readonly bytesWritten: number };

/** How a body sent with a given `Content-Encoding` is read. */
export type ContentDecoding =
  | { kind: 'identity' }
  | { kind: 'decoded'; name: string; create: () => Decoder }
  | { kind: 'unsupported'; value: string };

/** The codings read, as a 415 names them. */
export const DECODABLE_CODINGS = 'gzip, x-gzip, deflate, br or identity';

// `deflate` is the zlib format (RFC 9110 §8.4.1.2), which is what Fluent Bit, Vector and curl send.
// A Map, not an object: a coding named `constructor` must not find Object's.
const DECODERS: ReadonlyMap<string, () => Decoder> = new Map<string, () => Decoder>([
  ['gzip', createGunzip],
  ['x-gzip', createGunzip],
  ['deflate', createInflate],
  ['br', createBrotliDecompress],
]);

/**
 * Reads a `Content-Encoding` header: none or `identity` is the body as sent; one known coding is
 * decoded; anything else — an unknown coding, or codings stacked on each other — is unsupported.
 */
export function contentDecoding(header: string | undefined): ContentDecoding {
  const codings = (header ?? '')
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return { kind: 'identity' };
  const name = codings[0]!;
  const create = DECODERS.get(name);
  if (codings.length > 1 || create === undefined)
    return { kind: 'unsupported', value: (header ?? '').trim() };
  return { kind: 'decoded', name, create };
}
