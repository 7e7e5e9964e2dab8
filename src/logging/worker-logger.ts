import type { Logger } from 'pino';
import type { ResolvedLogOptions } from '../config/log-options.js';
import { createLogger } from './logger.js';

/** What a worker logs with: it only warns and reports errors (retries, dead-letter failures). */
export type WorkerLogger = Pick<Logger, 'warn' | 'error'>;

/** pino's numeric levels, for deciding whether a call would be written before loading pino. */
const LEVEL_VALUES: Record<ResolvedLogOptions['level'], number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/**
 * A worker's logger, built on its first line. A worker logs only when something goes wrong — a
 * write retried, a dead-letter sink failing — so in most runs it never logs at all, and pino (~40
 * ms of a worker thread's start, in every worker: docs/MEASUREMENTS.md) is not loaded until a line
 * is due. Then it is built as the main thread's is (createLogger), writing synchronously to the same
 * destination, with the same bindings; a call below the level loads nothing.
 */
export function workerLogger(options: ResolvedLogOptions, bindings: Record<string, unknown>): WorkerLogger {
  const threshold = LEVEL_VALUES[options.level];
  let logger: Logger | undefined;
  const built = (): Logger => {
    logger ??= buildOrStderr(options, bindings);
    return logger;
  };
  return {
    warn: ((...args: Parameters<Logger['warn']>) => {
      if (threshold <= LEVEL_VALUES.warn) built().warn(...args);
    }) as Logger['warn'],
    error: ((...args: Parameters<Logger['error']>) => {
      if (threshold <= LEVEL_VALUES.error) built().error(...args);
    }) as Logger['error'],
  };
}

/**
 * createLogger, or — when the destination cannot be opened now (the main thread opened it at start,
 * so something changed since: a disk full, a permission taken away) — a logger on stderr whose first
 * line says why. A line that is due must not fail the write it is about.
 */
function buildOrStderr(options: ResolvedLogOptions, bindings: Record<string, unknown>): Logger {
  try {
    return createLogger(options, bindings);
  } catch (error) {
    const logger = createLogger({ ...options, destination: 2, pretty: false }, bindings);
    logger.error(
      { destination: options.destination, error: (error as Error).message },
      'log destination cannot be opened: logging to stderr',
    );
    return logger;
  }
}
