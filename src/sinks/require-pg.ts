import { createRequire } from 'node:module';
import type { Importer } from '../optional-package.js';

const requireCjs = createRequire(import.meta.url);

/**
 * An Importer (see importOptional) that loads a CommonJS package — pg and pg-copy-streams — with
 * `require`, the fetch API's `Response` out of sight while it runs.
 *
 * pg 8 asks, as it loads, whether it runs in Cloudflare Workers: where there is no `navigator`
 * (Node 20; Node 21 and later have one and pg stops there) it constructs a `Response`, and that
 * first touch of the global makes Node load its fetch implementation — undici, with http2 and
 * tls — for an answer that is always no in Node. In a worker thread that was about 40 ms of the
 * ~85 pg took to load, in every worker of every run (docs/MEASUREMENTS.md). `require` is
 * synchronous, so no other code runs while the global is hidden, and its property is put back as
 * it was, still unloaded: `fetch` and `Response` work as before for whoever uses them first.
 */
export const requireHidingResponse: Importer = (specifier) =>
  new Promise((resolve) => resolve({ default: requireWithoutResponse(specifier) }));

function requireWithoutResponse(specifier: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  const hide =
    (globalThis as { navigator?: unknown }).navigator === undefined && descriptor?.configurable === true;
  if (!hide) return requireCjs(specifier);
  Object.defineProperty(globalThis, 'Response', {
    value: undefined,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  try {
    return requireCjs(specifier);
  } finally {
    Object.defineProperty(globalThis, 'Response', descriptor);
  }
}
