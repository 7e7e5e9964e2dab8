import type { SinkRecord } from '../sinks/sink.js';

/** Why an event went to the dead-letter sink. */
export type DeadLetterReason =
  | 'invalid-json'
  | 'invalid-event'
  | 'validation-failed'
  | 'transform-error'
  | 'invalid-transform-output'
  | 'sink-rejected'
  | 'retries-exhausted'
  | 'worker-crash';

/** What the dead-letter sink stores for one event. */
export interface DeadLetter {
  event: {
    id: string;
    key?: string | undefined;
    source?: string | undefined;
    ts?: number | undefined;
    payload: unknown;
  };
  reason: DeadLetterReason;
  attempts: number;
  /** Wall-clock ms of the first failure. */
  firstFailureAt: number;
  lastError: string;
}

/** Renders any thrown value as one line for `lastError`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code !== undefined
      ? `${error.name} [${String(code)}]: ${error.message}`
      : `${error.name}: ${error.message}`;
  }
  return String(error);
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

/** A dead letter as a record for the dead-letter sink: same id, so rewrites stay idempotent. */
export function deadLetterRecord(letter: DeadLetter): SinkRecord {
  return { id: letter.event.id, key: letter.event.key, source: 'sluice-dead-letter', payload: letter };
}
