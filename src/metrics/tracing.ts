import { createRequire } from 'node:module';
import type { Context, Span } from '@opentelemetry/api';

/**
 * Optional OpenTelemetry spans, one set per batch: `sluice.dispatch` on the main thread, and in the
 * worker `sluice.batch` with its children `sluice.transform` and `sluice.sink.write`. Without a
 * registered SDK every call here is the API's no-op; with one, the dispatch span's context crosses
 * to the worker in the task (W3C trace context, when a propagator is registered), so the worker's
 * spans are its children. Each thread registers its own SDK (a transform's setup() can do it).
 */
export type TraceCarrier = Record<string, string>;

type Api = typeof import('@opentelemetry/api');

/** Where the OpenTelemetry API (major version 1) keeps what is registered with it, in any thread. */
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
let api: Api | undefined;

/**
 * The API once something — a tracer provider, a propagator — is registered in this thread, else
 * undefined: until then every span would be the API's no-op, and loading the API (~50 ms a thread)
 * is not worth it. Checked at every span, since a transform's setup() may register later.
 */
function otel(): Api | undefined {
  if (api === undefined && (globalThis as Record<symbol, unknown>)[API_GLOBAL] !== undefined) {
    api = createRequire(import.meta.url)('@opentelemetry/api') as Api;
  }
  return api;
}

/** What spans are without a registered API: nothing is recorded. */
const NOOP_SPAN = { setStatus: () => NOOP_SPAN, end: () => {} } as unknown as Span;
const NOOP_CONTEXT = {} as Context;

const tracer = (o: Api) => o.trace.getTracer('sluice');

/** Starts a dispatch span; returns it and the carrier to send along (undefined when nothing to carry). */
export function startDispatchSpan(attributes: Record<string, number | string>): {
  span: Span;
  carrier?: TraceCarrier;
} {
  const o = otel();
  if (o === undefined) return { span: NOOP_SPAN };
  const span = tracer(o).startSpan('sluice.dispatch', { attributes });
  const carrier: TraceCarrier = {};
  o.propagation.inject(o.trace.setSpan(o.context.active(), span), carrier);
  return Object.keys(carrier).length > 0 ? { span, carrier } : { span };
}

/** Ends a span, marking it failed with the error when there is one. */
export function endSpan(span: Span, error?: unknown): void {
  // 2: SpanStatusCode.ERROR, without loading the API for the enum.
  if (error !== undefined) span.setStatus({ code: 2, message: String(error) });
  span.end();
}

/** In a worker: the batch span, a child of the dispatch span when its context came along. */
export function startBatchSpan(
  carrier: TraceCarrier | undefined,
  attributes: Record<string, number | string>,
): {
  span: Span;
  context: Context;
} {
  const o = otel();
  if (o === undefined) return { span: NOOP_SPAN, context: NOOP_CONTEXT };
  const parent = carrier ? o.propagation.extract(o.context.active(), carrier) : o.context.active();
  const span = tracer(o).startSpan('sluice.batch', { attributes }, parent);
  return { span, context: o.trace.setSpan(parent, span) };
}

/** A child span of the batch (`sluice.transform`, `sluice.sink.write`). */
export function startChildSpan(
  name: string,
  parent: Context,
  attributes?: Record<string, number | string>,
): Span {
  const o = otel();
  if (o === undefined) return NOOP_SPAN;
  return tracer(o).startSpan(name, attributes ? { attributes } : {}, parent);
}
