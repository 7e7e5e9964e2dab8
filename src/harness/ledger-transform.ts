/**
 * The transform every system runs for `sluice bench --config`: the user's transform module, named
 * in this module's URL (`?inner=<url>`), run unchanged — except that an event it filters out
 * (null, undefined or an empty array) becomes one marker record instead of nothing. The ledger
 * sink counts the marker's id as filtered and writes nothing for it, so a filtered event is told
 * from a lost one by id; and a flatMap's first output keeps its event's id. Without `inner`,
 * events pass through as they are.
 */
import { pathToFileURL } from 'node:url';
import type { DecodedEvent } from '../codec/event.js';
import type { TransformContext, TransformModule, TransformOutput } from '../transforms/transform.js';

/** The `source` of a marker record: never written to the real sink. */
export const FILTERED_MARK = 'sluice-bench:filtered';

const params = new URL(import.meta.url).searchParams;
const inner = params.get('inner');
/** The pipeline's one route, when it is named: the marker goes there, whatever the route's rule. */
const route = params.get('route') ?? undefined;
const module: TransformModule = inner ? ((await import(inner)) as TransformModule) : {};
for (const name of ['default', 'validate', 'setup'] as const) {
  if (module[name] !== undefined && typeof module[name] !== 'function')
    throw new TypeError(`the ${name} export of ${inner} must be a function, got ${typeof module[name]}`);
}
const map = module.default ?? ((event: DecodedEvent) => event);

function marked(event: DecodedEvent, output: TransformOutput): TransformOutput {
  if (output === null || output === undefined || (Array.isArray(output) && output.length === 0))
    return { id: event.id, source: FILTERED_MARK, payload: 0, ...(route === undefined ? {} : { route }) };
  // A flatMap's outputs are `<id>:0`, `<id>:1`, …: its first output keeps the event's own id instead,
  // so the ledger counts the event once; the others are not events of the run and are not counted.
  if (Array.isArray(output) && output.length > 1) {
    const first = output[0];
    if (first && typeof first === 'object' && first.id === undefined)
      return [{ ...first, id: event.id }, ...output.slice(1)];
  }
  return output;
}

export default function benchTransform(event: DecodedEvent): TransformOutput | Promise<TransformOutput> {
  const output = map(event);
  return output instanceof Promise ? output.then((o) => marked(event, o)) : marked(event, output);
}

export const validate = module.validate;

/** The user's transform takes lazy payloads, and so does its wrapper. */
export const lazyPayload = module.lazyPayload === true;

export async function setup(context: TransformContext): Promise<void> {
  await module.setup?.(context);
}

/**
 * This module's URL wrapping the transform at `transform` (a path or URL), or none; filter markers
 * go to `routeName` when given.
 */
export function ledgerTransformUrl(transform: string | undefined, routeName?: string): URL {
  const url = new URL(import.meta.url);
  url.search = '';
  if (routeName !== undefined) url.searchParams.set('route', routeName);
  if (transform !== undefined) {
    const href = /^[a-z]+:/i.test(transform) ? transform : pathToFileURL(transform).href;
    url.searchParams.set('inner', href);
  }
  return url;
}
