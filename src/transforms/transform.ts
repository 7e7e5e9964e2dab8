import { pathToFileURL } from 'node:url';
import type { DecodedEvent, SluiceEvent } from '../codec/event.js';
import { TransformError } from '../errors.js';

/** What a transform may return for one event: one event, several, or null/undefined to drop it. */
export type TransformOutput = TransformedEvent | TransformedEvent[] | null | undefined;

/**
 * An event a transform emits: shaped as a pushed event, but without an id it inherits the input's
 * (`id:k` for the k-th of several) rather than getting a new one. `route` names the pipeline's
 * route it goes to, or several (fan-out); without it the routes' `when` rules and `defaultRoute`
 * decide. A name no route has dead-letters the output as `unknown-route`.
 */
export type TransformedEvent = SluiceEvent & { route?: string | readonly string[] };

export interface TransformContext {
  /** The worker thread running this copy of the module. */
  threadId: number;
}

/**
 * The transform module contract, run inside every worker:
 * - `default(event)`: map (return an event), flatMap (an array), filter (null); may be async.
 * - `setup(context)`: optional, awaited once per worker before the first event.
 * - `validate(event)`: optional; return true to accept, false or a reason string to dead-letter
 *   the event (`validation-failed`), or throw.
 */
export interface TransformModule {
  default?: (event: DecodedEvent) => TransformOutput | Promise<TransformOutput>;
  setup?: (context: TransformContext) => void | Promise<void>;
  validate?: (event: DecodedEvent) => boolean | string | undefined | Promise<boolean | string | undefined>;
  /**
   * Optional, `true` to take each object payload as a lazy view over its JSON text
   * (src/codec/lazy-payload.ts): parsed when first read, written as its own text — with members
   * the transform added spliced in — while the transform reads only top-level scalars and adds
   * members. Faster for transforms that enrich, exact for numbers JavaScript cannot hold; the
   * payload is then a Proxy, which `structuredClone` and `postMessage` refuse.
   */
  lazyPayload?: boolean;
}

/** A loaded transform: the module's functions, or the identity when none was given. */
export interface LoadedTransform {
  map: (event: DecodedEvent) => TransformOutput | Promise<TransformOutput>;
  validate: TransformModule['validate'];
  /** The module asked for lazy payloads (TransformModule.lazyPayload). */
  lazyPayload: boolean;
}

/**
 * Imports and sets up a transform module by URL or path (`undefined`: pass events through). A
 * module that cannot be imported, exports something other than functions, or whose setup() throws
 * is a TransformError naming the module.
 */
export async function loadTransform(
  specifier: string | undefined,
  context: TransformContext,
): Promise<LoadedTransform> {
  if (specifier === undefined) return { map: (event) => event, validate: undefined, lazyPayload: false };
  const url = /^[a-z]+:/i.test(specifier) ? specifier : pathToFileURL(specifier).href;
  let module: TransformModule;
  try {
    module = (await import(url)) as TransformModule;
  } catch (error) {
    throw new TransformError(specifier, `cannot be loaded: ${messageOf(error)}`, { cause: error });
  }
  for (const name of ['default', 'validate', 'setup'] as const) {
    if (module[name] !== undefined && typeof module[name] !== 'function') {
      throw new TransformError(
        specifier,
        `the ${name} export must be a function, got ${typeof module[name]}`,
      );
    }
  }
  if (module.lazyPayload !== undefined && typeof module.lazyPayload !== 'boolean') {
    throw new TransformError(
      specifier,
      `the lazyPayload export must be a boolean, got ${typeof module.lazyPayload} ${String(module.lazyPayload)}`,
    );
  }
  try {
    await module.setup?.(context);
  } catch (error) {
    throw new TransformError(specifier, `setup() failed: ${messageOf(error)}`, { cause: error });
  }
  return {
    map: module.default ?? ((event) => event),
    validate: module.validate,
    lazyPayload: module.lazyPayload === true,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
