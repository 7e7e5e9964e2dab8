/**
 * Every error Sluice raises carries a stable `code`. Errors cross `postMessage` between threads,
 * where the prototype chain is lost, so callers classify by `code`, never by `instanceof` alone.
 */
export type SluiceErrorCode =
  | 'SLUICE_INVALID_OPTION'
  | 'SLUICE_INVALID_EVENT'
  | 'SLUICE_RECORD_TOO_LARGE'
  | 'SLUICE_QUEUE_FULL'
  | 'SLUICE_CLOSED'
  | 'SLUICE_SINK_ERROR'
  | 'SLUICE_SOURCE_ERROR'
  | 'SLUICE_TRANSFORM_ERROR'
  | 'SLUICE_SHUTDOWN_TIMEOUT'
  | 'SLUICE_STARTUP_TIMEOUT';

export class SluiceError extends Error {
  readonly code: SluiceErrorCode;

  constructor(code: SluiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Options failed validation. `problems` lists every problem found, each naming the field and
 * quoting the value (`queue.partitions must be an integer from 1 to 1024, got 0`); the message
 * joins them.
 */
export class InvalidOptionError extends SluiceError {
  readonly problems: string[];

  constructor(field: string, expectation: string, value: unknown);
  constructor(problems: readonly string[]);
  constructor(fieldOrProblems: string | readonly string[], expectation?: string, value?: unknown) {
    const problems =
      typeof fieldOrProblems === 'string'
        ? [`${fieldOrProblems} must be ${expectation}, got ${quote(value)}`]
        : [...fieldOrProblems];
    super('SLUICE_INVALID_OPTION', problems.join('; '));
    this.problems = problems;
  }
}

/** An event cannot be encoded; `field` names the offending part of the event. */
export class InvalidEventError extends SluiceError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('SLUICE_INVALID_EVENT', `event.${field} ${message}`, options);
    this.field = field;
  }
}

/** The encoded record is larger than `queue.maxRecordBytes`; nothing was written. */
export class RecordTooLargeError extends SluiceError {
  readonly recordBytes: number;
  readonly maxRecordBytes: number;

  constructor(recordBytes: number, maxRecordBytes: number) {
    super(
      'SLUICE_RECORD_TOO_LARGE',
      `record of ${recordBytes} bytes exceeds queue.maxRecordBytes (${maxRecordBytes})`,
    );
    this.recordBytes = recordBytes;
    this.maxRecordBytes = maxRecordBytes;
  }
}

/** The queue stayed full for longer than the `reject` policy allows. */
export class QueueFullError extends SluiceError {
  constructor(waitedMs: number) {
    super('SLUICE_QUEUE_FULL', `queue is full (waited ${waitedMs} ms)`);
  }
}

/** The queue or pipeline was closed; no more events are accepted. */
export class ClosedError extends SluiceError {
  constructor(what = 'queue') {
    super('SLUICE_CLOSED', `${what} is closed`);
  }
}

/** Renders a value for an error message: strings quoted, everything else as JSON where possible. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  // JSON would print NaN and ±Infinity as null.
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return '[function]';
  if (typeof value === 'symbol') return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A source could not reach or read what it reads from (a broker down, a stream missing). */
export class SourceError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SLUICE_SOURCE_ERROR', message, options);
  }
}

/** A server URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    // Not a URL (a bare host:port, say): drop whatever sits between a colon and an @.
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
