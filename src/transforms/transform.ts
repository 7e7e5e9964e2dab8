import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { DecodedEvent, SluiceEvent } from '../codec/event.js';
import { describeError } from '../delivery/dead-letter.js';
import { serializeError, TransformError } from '../errors.js';

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
 * — whatever it throws — or calls process.exit() in a worker thread is a TransformError naming the
 * module.
 */
export async function loadTransform(
  specifier: string | undefined,
  context: TransformContext,
  attempt = 0,
): Promise<LoadedTransform> {
  if (specifier === undefined) return { map: (event) => event, validate: undefined, lazyPayload: false };
  refuseExit();
  try {
    return await load(specifier, context, attempt);
  } finally {
    allowExit();
  }
}

/**
 * `attempt` > 0: a start after a failed one. Node keeps a module whose evaluation threw, and
 * throws the same error at every import of its URL: a file's module is imported under a URL of its
 * own for each attempt, evaluated again (what it imports in turn stays as Node cached it).
 */
async function load(specifier: string, context: TransformContext, attempt: number): Promise<LoadedTransform> {
  const base = /^[a-z]+:/i.test(specifier) ? specifier : pathToFileURL(specifier).href;
  const url =
    attempt > 0 && base.startsWith('file:')
      ? `${base}${base.includes('?') ? '&' : '?'}sluice-start=${attempt}`
      : base;
  let module: TransformModule;
  try {
    module = (await import(url)) as TransformModule;
  } catch (error) {
    throw new TransformError(specifier, `cannot be loaded: ${messageOf(error)}`, { cause: causeOf(error) });
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
      `the lazyPayload export must be a boolean, got ${typeof module.lazyPayload} ${describeError(module.lazyPayload)}`,
    );
  }
  try {
    await module.setup?.(context);
  } catch (error) {
    throw new TransformError(specifier, `setup() failed: ${messageOf(error)}`, { cause: causeOf(error) });
  }
  return {
    map: module.default ?? ((event) => event),
    validate: module.validate,
    lazyPayload: module.lazyPayload === true,
  };
}

/** How many loadTransform calls of this thread are running: process.exit throws while any is. */
let exitRefusals = 0;
let threadExit: typeof process.exit | undefined;

/**
 * In a worker thread, process.exit() throws while a transform's module body or setup() runs,
 * instead of ending the thread: ended, the thread takes the pipeline's start-up with it, which
 * then fails with piscina's "worker exited with code 5", naming no module. Thrown, it fails the
 * start-up as a TransformError, as any other failure of setup() does. Each worker thread has its
 * own `process.exit`; on the main thread (the bench's in-process systems) it is left alone, as it
 * ends the process, for the transform or for anything else running meanwhile.
 */
function refuseExit(): void {
  if (isMainThread || exitRefusals++ > 0) return;
  threadExit = process.exit;
  process.exit = exitRefused;
}

function allowExit(): void {
  if (isMainThread || --exitRefusals > 0) return;
  if (process.exit === exitRefused && threadExit !== undefined) process.exit = threadExit;
  threadExit = undefined;
}

function exitRefused(code?: number | string | null): never {
  throw new Error(
    `it called process.exit(${code === undefined ? '' : String(code)}), which would end the worker thread; a transform fails its start by throwing`,
  );
}

/**
 * What a module threw, as a TransformError's cause: the value itself when serializeError can carry
 * it to the main thread, else an Error holding its rendering. serializeError reads the cause's
 * message (or renders the value), and a getter or Proxy trap that throws there would reject the
 * start-up with that instead of the TransformError.
 */
function causeOf(error: unknown): unknown {
  try {
    serializeError(new Error('', { cause: error }));
    return error;
  } catch {
    return new Error(describeError(error));
  }
}

/**
 * What a module threw, for a TransformError's message: an Error's message, else the value rendered.
 * Never throws (describeError): what a module throws is the module's to choose — an object with no
 * prototype, an Error whose message getter throws — and a throw here would reject in place of the
 * TransformError, a plain error naming no module.
 */
function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message);
  } catch {}
  return describeError(error);
}
