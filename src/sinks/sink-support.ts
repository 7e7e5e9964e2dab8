import { SinkError } from '../errors.js';

/**
 * Node socket and DNS error codes that a reconnect or a later attempt can clear: the peer refused,
 * reset or dropped the connection, the route or the name lookup failed for now, or it timed out.
 */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** A thrown value's message: an Error's own, anything else as a string. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What a sink holds once open() succeeded (its connection, file, prepared statement); a write
 * before open() or after close() is a permanent SinkError naming the sink.
 */
export function requireOpen<T>(opened: T | undefined, sink: string): T {
  if (opened === undefined) throw new SinkError(`${sink} sink is not open`, { retryable: false });
  return opened;
}

/** How a failure is classified, and (when the cause's own message is not enough) described. */
export interface SinkFailure {
  retryable: boolean;
  perRecord?: boolean;
  /** The reason after `<sink>: <what>: `. @default the cause's message */
  reason?: string;
}

/** A SinkError `<sink>: <what>: <reason>`, carrying the error that caused it. */
export function sinkFailure(sink: string, what: string, cause: unknown, failure: SinkFailure): SinkError {
  const { retryable, perRecord = false, reason = messageOf(cause) } = failure;
  return new SinkError(`${sink}: ${what}: ${reason}`, { retryable, perRecord, cause });
}
