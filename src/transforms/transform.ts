import { pathToFileURL } from 'node:url';
import type { DecodedEvent } from '../codec/event.js';

/** What a transform may return for one event: one event, several, or null/undefined to drop it. */
export type TransformOutput = TransformedEvent | TransformedEvent[] | null | undefined;

/** An event a transform emits. Without an id it inherits the input's (`id:k` for the k-th of several). */
export interface TransformedEvent {
  id?: string;
  key?: string;
  source?: string;
  ts?: number;
  payload: unknown;
}

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
}

/** A loaded transform: the module's functions, or the identity when none was given. */
export interface LoadedTransform {
  map: (event: DecodedEvent) => TransformOutput | Promise<TransformOutput>;
  validate: TransformModule['validate'];
}

/** Imports and sets up a transform module by URL or path (`undefined`: pass events through). */
export async function loadTransform(
  specifier: string | undefined,
  context: TransformContext,
): Promise<LoadedTransform> {
  if (specifier === undefined) return { map: (event) => event, validate: undefined };
  const url = /^[a-z]+:/i.test(specifier) ? specifier : pathToFileURL(specifier).href;
  const module = (await import(url)) as TransformModule;
  if (module.default !== undefined && typeof module.default !== 'function') {
    throw new TypeError(`transform module ${specifier}: the default export must be a function`);
  }
  if (module.validate !== undefined && typeof module.validate !== 'function') {
    throw new TypeError(`transform module ${specifier}: the validate export must be a function`);
  }
  await module.setup?.(context);
  return { map: module.default ?? ((event) => event), validate: module.validate };
}
