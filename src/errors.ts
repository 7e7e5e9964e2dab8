/**
 * Every error Sluice raises carries a stable `code`, in every thread. Structured clone keeps only
 * an Error's message and stack, so what crosses a thread is never the Error itself: the worker
 * throws `serializeError(error)` and the main thread `reviveError`s it (pino's thread-stream does
 * the same). Callers classify by `code`, never by `instanceof` alone.
 */
export type SluiceErrorCode =
  | 'SLUICE_INVALID_OPTION'
  | 'SLUICE_INVALID_EVENT'
  | 'SLUICE_RECORD_TOO_LARGE'
  | 'SLUICE_QUEUE_FULL'
  | 'SLUICE_QUEUE_LOCKED'
  | 'SLUICE_DISK_QUEUE_FAILED'
  | 'SLUICE_CLOSED'
  | 'SLUICE_SINK_ERROR'
  | 'SLUICE_SOURCE_ERROR'
  | 'SLUICE_HTTP_REQUEST_REFUSED'
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
 * The stable code of an error Sluice raised, read from its `code` — in any thread, from any copy of
 * the package, whatever its prototype — or undefined for an error that is not Sluice's.
 */
export function sluiceCodeOf(error: unknown): SluiceErrorCode | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SLUICE_') ? (code as SluiceErrorCode) : undefined;
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

/**
 * An event cannot be encoded; `field` names the offending part of the event — or, with
 * `argumentOf`, the argument of that push method whose shape is wrong (`records`, `records[3]`).
 */
export class InvalidEventError extends SluiceError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown; argumentOf?: string }) {
    const subject =
      options?.argumentOf === undefined ? `event.${field}` : `${options.argumentOf}(): ${field}`;
    super('SLUICE_INVALID_EVENT', `${subject} ${message}`, options);
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
  readonly waitedMs: number;

  constructor(waitedMs: number) {
    super('SLUICE_QUEUE_FULL', `queue is full (waited ${waitedMs} ms)`);
    this.waitedMs = waitedMs;
  }
}

/**
 * The disk queue could not take a push: the log's write failed (a full disk, an I/O error: the
 * message names the directory, `cause` is the system's error), or, in a producer thread, the main
 * thread's disk queue failed its push (the main thread's log says why).
 */
export class DiskQueueFailedError extends SluiceError {
  constructor(
    message = "the disk queue refused the push: see the main thread's log",
    options?: ErrorOptions,
  ) {
    super('SLUICE_DISK_QUEUE_FAILED', message, options);
  }
}

/** Another running process holds the disk queue's directory. */
export class QueueLockedError extends SluiceError {
  readonly pid: number | undefined;

  constructor(dir: string, pid: number | undefined) {
    super(
      'SLUICE_QUEUE_LOCKED',
      pid === undefined
        ? `queue directory ${dir} is locked by another process`
        : `queue directory ${dir} is held by process ${pid}, which is running`,
    );
    this.pid = pid;
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

export interface SinkErrorOptions {
  /** Whether the same write may succeed later (a connection lost, a lock held). */
  retryable: boolean;
  /** How long to wait before retrying, ms, when the sink knows (a server's Retry-After). */
  retryAfterMs?: number;
  /**
   * The batch failed because of some of its records (a value the database refused), not because
   * of the sink: written in smaller parts, the other records succeed. Delivery then splits the
   * batch until the records at fault stand alone, and dead-letters only those.
   */
  perRecord?: boolean;
  cause?: unknown;
}

/**
 * The HTTP source refuses a request's body (not JSON, not an array, an event over
 * queue.maxRecordBytes): `status` is the answer the client gets, the message its `error`.
 */
export class HttpError extends SluiceError {
  readonly status: number;

  constructor(status: number, message: string) {
    super('SLUICE_HTTP_REQUEST_REFUSED', message);
    this.status = status;
  }
}

/** A sink failure that says whether a retry can help, and optionally when to retry. */
export class SinkError extends SluiceError {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly perRecord: boolean;

  constructor(message: string, options: SinkErrorOptions) {
    super('SLUICE_SINK_ERROR', message, { cause: options.cause });
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.perRecord = options.perRecord ?? false;
  }
}

/** A transform module could not be loaded or set up: missing, a wrong export, or its setup() threw. */
export class TransformError extends SluiceError {
  /** The module as configured (path or URL). */
  readonly module: string;

  constructor(module: string, problem: string, options?: { cause?: unknown }) {
    super('SLUICE_TRANSFORM_ERROR', `transform ${module}: ${problem}`, options);
    this.module = module;
  }
}

/** close() ran out of time: `pendingEvents` accepted events were neither written nor dead-lettered. */
export class ShutdownTimeoutError extends SluiceError {
  readonly pendingEvents: number;
  readonly timeoutMs: number;

  constructor(pendingEvents: number, timeoutMs: number) {
    super(
      'SLUICE_SHUTDOWN_TIMEOUT',
      `close() timed out after ${timeoutMs} ms with ${pendingEvents} events still in the ring: accepted, and neither written nor dead-lettered`,
    );
    this.pendingEvents = pendingEvents;
    this.timeoutMs = timeoutMs;
  }
}

/** The first worker did not load the transform and open the sinks within workers.startupTimeoutMs. */
export class StartupTimeoutError extends SluiceError {
  readonly timeoutMs: number;

  /** `transform`: the module (undefined: none); `sink`: the sink's type, or `module <path>`. */
  constructor(timeoutMs: number, starting: { transform: string | undefined; sink: string }) {
    const transform =
      starting.transform === undefined
        ? ''
        : `loading transform ${starting.transform} (its setup() included) and `;
    super(
      'SLUICE_STARTUP_TIMEOUT',
      `a worker did not start within workers.startupTimeoutMs (${timeoutMs} ms): ${transform}opening sink ${starting.sink} did not finish`,
    );
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The run config file is unusable (`sluice run`, `sluice validate`): `errors` lists every problem,
 * each naming the field and quoting the value.
 */
export class RunConfigError extends SluiceError {
  readonly errors: readonly string[];

  constructor(file: string, errors: readonly string[]) {
    super('SLUICE_INVALID_OPTION', `${file}: ${errors.join('; ')}`);
    this.errors = errors;
  }
}

/** A value an error's own data field may hold and still cross a thread as plain data. */
export type ErrorField = string | number | boolean | null | readonly (string | number | boolean | null)[];

/**
 * An error as plain data, the only form in which errors cross a thread (a piscina task's
 * rejection): structured clone keeps it whole, where it would strip an Error to message and stack.
 */
export interface SerializedError {
  /** Tells a serialized error from any other object a worker might throw. */
  readonly type: 'sluice:error';
  name: string;
  message: string;
  /** The stable `SLUICE_*` code, or whatever string code a foreign error carried (`ENOENT`). */
  code: string | undefined;
  stack: string | undefined;
  /** The cause's message, when there was a cause. */
  cause: string | undefined;
  /**
   * The error's own data fields: SinkError's retryable and retryAfterMs, InvalidEventError's field,
   * RecordTooLargeError's sizes, TransformError's module…
   */
  fields: Record<string, ErrorField>;
}

/** Properties every error has, carried by the other members of SerializedError. */
const CARRIED = new Set(['name', 'message', 'stack', 'code', 'cause']);

function isErrorField(value: unknown): value is ErrorField {
  if (value === null) return true;
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return true;
  return (
    Array.isArray(value) &&
    value.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
  );
}

function isSerializedError(value: unknown): value is SerializedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'sluice:error' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

function causeMessage(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) return cause.message;
  if (typeof cause === 'object' && cause !== null && typeof (cause as Error).message === 'string')
    return (cause as Error).message;
  return typeof cause === 'string' ? cause : quote(cause);
}

/** Turns anything thrown into plain data that crosses a thread whole; see reviveError. */
export function serializeError(error: unknown): SerializedError {
  if (isSerializedError(error)) return error;
  if (typeof error !== 'object' || error === null) {
    return {
      type: 'sluice:error',
      name: 'Error',
      message: `a non-error value was thrown: ${quote(error)}`,
      code: undefined,
      stack: undefined,
      cause: undefined,
      fields: {},
    };
  }
  const e = error as Partial<Error> & { code?: unknown };
  const fields: Record<string, ErrorField> = {};
  for (const [key, value] of Object.entries(error)) {
    if (!CARRIED.has(key) && isErrorField(value)) fields[key] = value;
  }
  return {
    type: 'sluice:error',
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : quote(error),
    code: typeof e.code === 'string' ? e.code : undefined,
    stack: typeof e.stack === 'string' ? e.stack : undefined,
    cause: causeMessage(e.cause),
    fields,
  };
}

/**
 * Turns what a piscina task rejected with back into an Error: a serialized error (or any error-like
 * object) with its name, message, stack, code and fields — an instance of the SluiceError subclass
 * its `SLUICE_*` code belongs to, a plain Error for a foreign code. A real Error (piscina's own: a
 * worker that exited, an aborted task) is returned as it is; any other value becomes an Error that
 * shows it.
 */
export function reviveError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value !== 'object' || value === null) {
    return new Error(`a non-error value was thrown: ${quote(value)}`, { cause: value });
  }
  const s = isSerializedError(value) ? value : serializeError(value);
  const options = s.cause === undefined ? undefined : { cause: new Error(s.cause) };
  const Class =
    s.code !== undefined && Object.hasOwn(CLASSES, s.code) ? CLASSES[s.code as SluiceErrorCode] : undefined;
  // The subclass's constructor is not run (each builds its message from its own arguments): the
  // base constructor is, with the subclass as new.target, so the result is a real Error whose
  // prototype is the subclass's, and the subclass's data fields are then copied over.
  const error: Error =
    Class === undefined
      ? new Error(s.message, options)
      : Reflect.construct(SluiceError, [s.code, s.message, options], Class);
  Object.assign(error, s.fields);
  error.name = s.name;
  if (s.code !== undefined && Class === undefined) Object.assign(error, { code: s.code });
  if (s.stack !== undefined) error.stack = s.stack;
  return error;
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

/** The class each code belongs to, for reviveError. */
const CLASSES: Record<SluiceErrorCode, abstract new (...args: never[]) => SluiceError> = {
  SLUICE_INVALID_OPTION: InvalidOptionError,
  SLUICE_INVALID_EVENT: InvalidEventError,
  SLUICE_RECORD_TOO_LARGE: RecordTooLargeError,
  SLUICE_QUEUE_FULL: QueueFullError,
  SLUICE_QUEUE_LOCKED: QueueLockedError,
  SLUICE_DISK_QUEUE_FAILED: DiskQueueFailedError,
  SLUICE_CLOSED: ClosedError,
  SLUICE_SINK_ERROR: SinkError,
  SLUICE_SOURCE_ERROR: SourceError,
  SLUICE_HTTP_REQUEST_REFUSED: HttpError,
  SLUICE_TRANSFORM_ERROR: TransformError,
  SLUICE_SHUTDOWN_TIMEOUT: ShutdownTimeoutError,
  SLUICE_STARTUP_TIMEOUT: StartupTimeoutError,
};
