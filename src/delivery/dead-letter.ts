import type { DecodeFailureReason } from '../codec/decode-event.js';
import type { DecodedEvent, SinkRecord } from '../codec/event.js';

/** Why an event went to the dead-letter sink. */
export type DeadLetterReason =
  | DecodeFailureReason
  | 'validation-failed'
  | 'transform-error'
  | 'invalid-transform-output'
  | 'unknown-route'
  | 'unserializable'
  | 'sink-rejected'
  | 'retries-exhausted'
  | 'worker-crash';

/** What the dead-letter sink stores for one event. */
export interface DeadLetter {
  event: Omit<DecodedEvent, 'payload'> & {
    /** The event's payload; absent when it could not be parsed or cannot be written as JSON. */
    payload?: unknown;
    /**
     * The event's text as it was pushed (an NDJSON line, or the pushed payload's JSON), when the
     * payload is absent or was refused for its shape: a flat string any JSON reader can take back.
     */
    raw?: string | undefined;
    /** Why the payload is absent although the event had one (it could not be written as JSON). */
    payloadError?: string | undefined;
  };
  reason: DeadLetterReason;
  attempts: number;
  /** Wall-clock ms of the first failure. */
  firstFailureAt: number;
  lastError: string;
  /**
   * The route whose sink refused the event, in a pipeline with several routes. A dead-letter sink
   * several routes share, if it deduplicates by id, keeps one letter per event.
   */
  route?: string;
}

/**
 * Renders any thrown value as one line for `lastError`. It never throws, whatever the value: it
 * runs where a failure is already being handled — often a transform's, which may throw anything
 * (an object with no prototype, one whose toString throws, an Error whose message getter throws,
 * a Proxy whose traps throw) — and a throw from here would take the worker down with the event,
 * a worker crash in place of a dead letter with its reason.
 */
export function describeError(error: unknown): string {
  return describe(error, 0);
}

/** What a getter or toString threw while a value was rendered is rendered too, this deep at most. */
const MAX_DESCRIBE_DEPTH = 2;

function describe(error: unknown, depth: number): string {
  try {
    if (error instanceof Error) {
      const name = errorPart(error, 'name', depth);
      const message = errorPart(error, 'message', depth);
      const code = errorPart(error, 'code', depth);
      return code !== undefined ? `${name} [${code}]: ${message}` : `${name}: ${message}`;
    }
    return String(error);
  } catch (failure) {
    // String() refused it: show what JSON can of it, and why it has no text.
    const why = depth < MAX_DESCRIBE_DEPTH ? describe(failure, depth + 1) : 'cannot be rendered';
    return `${asJson(error)} (cannot be rendered as text: ${why})`;
  }
}

/** One of an Error's fields as text (`code`: undefined when absent), or why it cannot be read. */
function errorPart(error: Error, field: 'name' | 'message' | 'code', depth: number): string | undefined {
  try {
    const value = (error as unknown as Record<string, unknown>)[field];
    return field === 'code' && value === undefined ? undefined : String(value);
  } catch (failure) {
    const why = depth < MAX_DESCRIBE_DEPTH ? describe(failure, depth + 1) : 'cannot be rendered';
    return `(its ${field} cannot be read: ${why})`;
  }
}

function asJson(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 200 ? `${json.slice(0, 200)}…` : json;
  } catch {}
  return `a thrown ${typeof value}`;
}

export function deadLetter(
  event: DeadLetter['event'],
  reason: DeadLetterReason,
  error: unknown,
  attempts = 1,
  firstFailureAt = Date.now(),
): DeadLetter {
  return { event, reason, attempts, firstFailureAt, lastError: describeError(error) };
}

/**
 * A dead letter as a record for the dead-letter sink: same id, so rewrites stay idempotent. Its
 * JSON is built here, once, and cannot fail: a payload that cannot be written as JSON (nested too
 * deep for the serialiser, a BigInt, a cycle) is left out, with the reason and the event's raw
 * text where there is one. The dead-letter path must be able to record any event whatever its
 * shape, or the one event that needs it most would block its batch for ever.
 */
export function deadLetterRecord(letter: DeadLetter): SinkRecord {
  return {
    id: letter.event.id,
    key: letter.event.key,
    source: 'sluice-dead-letter',
    payload: letter,
    payloadJson: deadLetterJson(letter),
  };
}

function deadLetterJson(letter: DeadLetter): string {
  let failure: unknown;
  try {
    const json = JSON.stringify(letter);
    if (json !== undefined) return json;
  } catch (error) {
    failure = error;
  }
  const { payload, ...event } = letter.event;
  const payloadError =
    failure === undefined ? `payload cannot be written as JSON (${typeof payload})` : describeError(failure);
  return JSON.stringify({ ...letter, event: { ...event, payloadError } });
}
