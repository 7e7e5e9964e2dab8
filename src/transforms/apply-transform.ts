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

/** The members of a transform output Sluice reads, each once. */
interface OutputFields {
  id?: unknown;
  key?: unknown;
  source?: unknown;
  ts?: unknown;
  payload?: unknown;
  route?: unknown;
}

/**
 * Appends a transform's output to `out` as sink records; returns a description of what is wrong
 * when the output is not events. Outputs without an id inherit the input's, `id:k` for the k-th of
 * several, so a batch processed twice yields the same ids. Each member of an output is read once:
 * a getter may answer differently each time, and what is checked must be what is written.
 */
function collectOutputs(input: DecodedEvent, output: TransformOutput, out: SinkRecord[]): string | undefined {
  if (output === null || output === undefined) return undefined;
  const list = Array.isArray(output) ? output : [output];
  const count = list.length;
  for (let k = 0; k < count; k++) {
    const item = list[k] as unknown;
    const payload = item !== null && typeof item === 'object' ? (item as OutputFields).payload : undefined;
    if (payload === undefined) {
      return `transform output ${k} is not an event with a payload: ${describeValue(item)}`;
    }
    const { id, key, source, ts, route } = item as OutputFields;
    const problem =
      stringFieldProblem(k, 'id', id, input.id, MAX_ID_BYTES) ??
      stringFieldProblem(k, 'key', key, input.key, MAX_KEY_BYTES) ??
      stringFieldProblem(k, 'source', source, input.source, MAX_KEY_BYTES) ??
      tsProblem(k, ts, input.ts);
    if (problem !== undefined) return problem;
    const names = route === undefined ? undefined : routeNames(route);
    if (names === null)
      return `transform output ${k}: route must be a route name or a non-empty array of names, got ${describeValue(route)}`;
    // Checked above: each is absent, or what push() would take.
    const record: SinkRecord = {
      id: id === undefined ? (count === 1 ? input.id : `${input.id}:${k}`) : (id as string),
      key: key === undefined ? input.key : (key as string),
      source: source === undefined ? input.source : (source as string),
      ts: ts === undefined ? input.ts : (ts as number),
      payload,
    };
    if (names !== undefined) record.route = names;
    out.push(record);
  }
  return undefined;
}

/**
 * An output's `route` as it is kept: a name, or a copy of a non-empty array of names (the array
 * stays the transform's, and its elements are read once here); null when it is neither.
 */
function routeNames(route: unknown): string | string[] | null {
  if (typeof route === 'string') return route === '' ? null : route;
  if (!Array.isArray(route)) return null;
  const count = route.length;
  if (count === 0) return null;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = route[i] as unknown;
    if (typeof name !== 'string' || name === '') return null;
    names.push(name);
  }
  return names;
}

/**
 * What is wrong with an output's id, key or source, if anything: push()'s rules. Absent, it is
 * the input's; else a string — a number or null is not taken for absent, the input's silently in
 * its place — and an id not empty. A string that is not well-formed UTF-16 or too long for its
 * field would reach the sink altered (a lone surrogate becomes U+FFFD, so two ids could collapse
 * into one). The input's own string, as it was decoded, was checked then.
 */
function stringFieldProblem(
  k: number,
  field: 'id' | 'key' | 'source',
  value: unknown,
  inherited: string | undefined,
  max: number,
): string | undefined {
  if (value === undefined || value === inherited) return undefined;
  if (typeof value !== 'string')
    return `transform output ${k}: ${field} must be a string, got ${describeValue(value)}`;
  if (field === 'id' && value === '') return `transform output ${k}: id must not be empty`;
  if (!value.isWellFormed())
    return `transform output ${k}: ${field} is not well-formed UTF-16 (a lone surrogate)`;
  if (value.length * 3 > max) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > max) return `transform output ${k}: ${field} is ${bytes} UTF-8 bytes, more than ${max}`;
  }
  return undefined;
}

/**
 * What is wrong with an output's ts, if anything: absent (the input's), or a finite number of
 * milliseconds, as push() takes — NaN and ±Infinity would reach the sink as null.
 */
function tsProblem(k: number, value: unknown, inherited: number | undefined): string | undefined {
  if (value === undefined || value === inherited) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return undefined;
  return `transform output ${k}: ts must be a finite number of milliseconds, got ${describeValue(value)}`;
}

/** A value for a message, at most 200 characters; never throws (see describeError). */
function describeValue(value: unknown): string {
  // JSON would show NaN and ±Infinity as null, and has no form for a BigInt.
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.slice(0, 200);
  } catch {}
  return describeError(value).slice(0, 200);
}
