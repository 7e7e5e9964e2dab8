import type { SinkRecord } from '../codec/event.js';
import { type DecodedEvent, MAX_ID_BYTES, MAX_KEY_BYTES } from '../codec/event.js';
import { type DeadLetter, deadLetter, describeError } from '../delivery/dead-letter.js';
import type { LoadedTransform, TransformOutput } from './transform.js';

/**
 * Runs `validate` and the transform on one event, appending what it emits to `out` as sink records
 * or a dead letter with the reason to `letters`. Returns a promise only when the transform or the
 * validator is asynchronous, so a synchronous transform costs no await per event.
 */
export function applyTransform(
  transform: LoadedTransform,
  event: DecodedEvent,
  out: SinkRecord[],
  letters: DeadLetter[],
): Promise<void> | undefined {
  // The event as it was decoded, read before the module's code runs: validate and the transform
  // are handed the object itself and may change it — set its id to a number, define a getter that
  // throws — and what a dead letter keeps, and what outputs inherit, must be what Sluice checked.
  const input: DecodedEvent = {
    id: event.id,
    key: event.key,
    source: event.source,
    ts: event.ts,
    payload: event.payload,
  };
  const validate = transform.validate;
  if (!validate) return mapEvent(transform, event, input, out, letters);
  let verdict: ReturnType<typeof validate>;
  try {
    verdict = validate(event);
    // Only an asynchronous validator pays for a promise. Inside the try: for a Proxy verdict
    // `instanceof` runs its getPrototypeOf trap, and a promise's own `then` is the module's code.
    if (verdict instanceof Promise) {
      return verdict.then(
        (v) => afterValidate(transform, event, input, v, out, letters),
        (error: unknown) => {
          letters.push(deadLetter(input, 'validation-failed', error));
        },
      );
    }
  } catch (error) {
    letters.push(deadLetter(input, 'validation-failed', error));
    return undefined;
  }
  return afterValidate(transform, event, input, verdict, out, letters);
}

function afterValidate(
  transform: LoadedTransform,
  event: DecodedEvent,
  input: DecodedEvent,
  verdict: boolean | string | undefined,
  out: SinkRecord[],
  letters: DeadLetter[],
): Promise<void> | undefined {
  if (verdict === true || verdict === undefined) return mapEvent(transform, event, input, out, letters);
  // Any other verdict is the reason, rendered by deadLetter (describeError), which renders any value.
  letters.push(
    deadLetter(input, 'validation-failed', verdict === false ? 'validate returned false' : verdict),
  );
  return undefined;
}

function mapEvent(
  transform: LoadedTransform,
  event: DecodedEvent,
  input: DecodedEvent,
  out: SinkRecord[],
  letters: DeadLetter[],
): Promise<void> | undefined {
  let mapped: TransformOutput | Promise<TransformOutput>;
  try {
    mapped = transform.map(event);
    // As in applyTransform: `instanceof` and `then` may run the module's code.
    if (mapped instanceof Promise) {
      return mapped.then(
        (output) => emit(input, output, out, letters),
        (error: unknown) => {
          letters.push(deadLetter(input, 'transform-error', error));
        },
      );
    }
  } catch (error) {
    letters.push(deadLetter(input, 'transform-error', error));
    return undefined;
  }
  emit(input, mapped, out, letters);
  return undefined;
}

/** Appends `output` to `out`, or dead-letters `input`, the event as decoded, saying what is wrong with it. */
function emit(input: DecodedEvent, output: TransformOutput, out: SinkRecord[], letters: DeadLetter[]): void {
  const before = out.length;
  let bad: string | undefined;
  try {
    bad = collectOutputs(input, output, out);
  } catch (error) {
    // Reading the output ran the module's code — a getter, a Proxy's trap — and it threw: the
    // event's failure, not the worker's.
    bad = `transform output could not be read: ${describeError(error)}`;
  }
  if (bad !== undefined) {
    out.length = before;
    letters.push(deadLetter(input, 'invalid-transform-output', bad));
  }
}

/**
 * Appends a transform's output to `out` as sink records; returns a description of what is wrong
 * when the output is not events. Outputs without an id inherit the input's, `id:k` for the k-th of
 * several, so a batch processed twice yields the same ids.
 */
function collectOutputs(input: DecodedEvent, output: TransformOutput, out: SinkRecord[]): string | undefined {
  if (output === null || output === undefined) return undefined;
  const list = Array.isArray(output) ? output : [output];
  for (let k = 0; k < list.length; k++) {
    const item = list[k] as unknown;
    if (
      item === null ||
      typeof item !== 'object' ||
      !('payload' in item) ||
      (item as { payload: unknown }).payload === undefined
    ) {
      return `transform output ${k} is not an event with a payload: ${describeValue(item)}`;
    }
    const e = item as {
      id?: unknown;
      key?: unknown;
      source?: unknown;
      ts?: unknown;
      payload: unknown;
      route?: unknown;
    };
    const problem = outputFieldProblem(k, e, input) ?? routeProblem(k, e.route);
    if (problem !== undefined) return problem;
    const id =
      typeof e.id === 'string' && e.id.length > 0 ? e.id : list.length === 1 ? input.id : `${input.id}:${k}`;
    const record: SinkRecord = {
      id,
      key: typeof e.key === 'string' ? e.key : input.key,
      source: typeof e.source === 'string' ? e.source : input.source,
      ts: typeof e.ts === 'number' ? e.ts : input.ts,
      payload: e.payload,
    };
    if (e.route !== undefined) record.route = e.route as string | readonly string[];
    out.push(record);
  }
  return undefined;
}

/** What is wrong with an output's `route`, if anything: a name, or a non-empty array of names. */
function routeProblem(k: number, route: unknown): string | undefined {
  if (route === undefined || (typeof route === 'string' && route !== '')) return undefined;
  if (
    Array.isArray(route) &&
    route.length > 0 &&
    route.every((name) => typeof name === 'string' && name !== '')
  )
    return undefined;
  return `transform output ${k}: route must be a route name or a non-empty array of names, got ${describeValue(route)}`;
}

/**
 * What is wrong with an output's id, key or source, if anything: the same rules as `push()` — a
 * string that is not well-formed UTF-16 or too long for its field would reach the sink altered
 * (a lone surrogate becomes U+FFFD, so two ids could collapse into one). A field that is the
 * input's own string was checked when the event was decoded: only what the transform set is.
 */
function outputFieldProblem(
  k: number,
  e: { id?: unknown; key?: unknown; source?: unknown },
  input: DecodedEvent,
): string | undefined {
  return (
    fieldProblem(k, 'id', e.id, input.id, MAX_ID_BYTES) ??
    fieldProblem(k, 'key', e.key, input.key, MAX_KEY_BYTES) ??
    fieldProblem(k, 'source', e.source, input.source, MAX_KEY_BYTES)
  );
}

function fieldProblem(
  k: number,
  field: string,
  value: unknown,
  inherited: string | undefined,
  max: number,
): string | undefined {
  if (typeof value !== 'string' || value === inherited) return undefined;
  if (!value.isWellFormed())
    return `transform output ${k}: ${field} is not well-formed UTF-16 (a lone surrogate)`;
  if (value.length * 3 > max) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > max) return `transform output ${k}: ${field} is ${bytes} UTF-8 bytes, more than ${max}`;
  }
  return undefined;
}

/** A value for a message, at most 200 characters; never throws (see describeError). */
function describeValue(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.slice(0, 200);
  } catch {}
  return describeError(value).slice(0, 200);
}
