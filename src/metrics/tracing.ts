import { type Context, context, propagation, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * Optional OpenTelemetry spans, one set per batch: `sluice.dispatch` on the main thread, and in the
 * worker `sluice.batch` with its children `sluice.transform` and `sluice.sink.write`. Without a
 * registered SDK every call here is the API's no-op; with one, the dispatch span's context crosses
 * to the worker in the task (W3C trace context, when a propagator is registered), so the worker's
 * spans are its children. Each thread registers its own SDK (a transform's setup() can do it).
 */
export type TraceCarrier = Record<string, string>;

const tracer = () => trace.getTracer('sluice');

/** Starts a dispatch span; returns it and the carrier to send along (undefined when nothing to carry). */
export function startDispatchSpan(attributes: Record<string, number | string>): {
  span: Span;
  carrier?: TraceCarrier;
} {
  const span = tracer().startSpan('sluice.dispatch', { attributes });
  const carrier: TraceCarrier = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return Object.keys(carrier).length > 0 ? { span, carrier } : { span };
}

/** Ends a span, marking it failed with the error when there is one. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
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
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  const span = tracer().startSpan('sluice.batch', { attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** A child span of the batch (`sluice.transform`, `sluice.sink.write`). */
export function startChildSpan(
  name: string,
  parent: Context,
  attributes?: Record<string, number | string>,
): Span {
  return tracer().startSpan(name, attributes ? { attributes } : {}, parent);
}
