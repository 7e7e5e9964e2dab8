import type { DecodedEvent } from '../codec/event.js';
import { type DeadLetter, deadLetter, describeError } from '../delivery/dead-letter.js';
import type { SinkRecord } from '../sinks/sink.js';
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
  if (transform.validate) return validateThenMap(transform, event, out, letters);
  return mapEvent(transform, event, out, letters);
}

async function validateThenMap(
  transform: LoadedTransform,
  event: DecodedEvent,
  out: SinkRecord[],
  letters: DeadLetter[],
): Promise<void> {
  const reason = await runValidate(transform.validate!, event);
  if (reason !== undefined) {
    letters.push(deadLetter(event, 'validation-failed', reason));
    return;
  }
  await mapEvent(transform, event, out, letters);
}

function mapEvent(
  transform: LoadedTransform,
  event: DecodedEvent,
  out: SinkRecord[],
  letters: DeadLetter[],
): Promise<void> | undefined {
  let mapped: TransformOutput | Promise<TransformOutput>;
  try {
    mapped = transform.map(event);
  } catch (error) {
    letters.push(deadLetter(event, 'transform-error', error));
    return undefined;
  }
  if (mapped instanceof Promise) {
    return mapped.then(
      (output) => emit(event, output, out, letters),
      (error: unknown) => {
        letters.push(deadLetter(event, 'transform-error', error));
      },
    );
  }
  emit(event, mapped, out, letters);
  return undefined;
}

function emit(event: DecodedEvent, output: TransformOutput, out: SinkRecord[], letters: DeadLetter[]): void {
  const before = out.length;
  const bad = collectOutputs(event, output, out);
  if (bad !== undefined) {
    out.length = before;
    letters.push(deadLetter(event, 'invalid-transform-output', bad));
  }
}

async function runValidate(
  validate: NonNullable<LoadedTransform['validate']>,
  event: DecodedEvent,
): Promise<string | undefined> {
  try {
    const verdict = await validate(event);
    if (verdict === true || verdict === undefined) return undefined;
    return verdict === false ? 'validate returned false' : String(verdict);
  } catch (error) {
    return describeError(error);
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
    const e = item as { id?: unknown; key?: unknown; source?: unknown; ts?: unknown; payload: unknown };
    const id =
      typeof e.id === 'string' && e.id.length > 0 ? e.id : list.length === 1 ? input.id : `${input.id}:${k}`;
    out.push({
      id,
      key: typeof e.key === 'string' ? e.key : input.key,
      source: typeof e.source === 'string' ? e.source : input.source,
      ts: typeof e.ts === 'number' ? e.ts : input.ts,
      payload: e.payload,
    });
  }
  return undefined;
}

function describeValue(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 200);
  } catch {
    return String(value);
  }
}
