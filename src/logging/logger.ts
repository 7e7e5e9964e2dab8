import { type Logger, pino } from 'pino';
import type { ResolvedLogOptions } from '../config/log-options.js';

// Options are resolved on the main thread (src/config/log-options.ts); workers import only this.
export type { LogLevel, LogOptions, ResolvedLogOptions } from '../config/log-options.js';

/**
 * A pino logger for this thread, writing to the shared destination. Call it once per thread: the
 * main thread and every worker build their own from the same options.
 */
export async function createLogger(
  options: ResolvedLogOptions,
  bindings: Record<string, unknown>,
): Promise<Logger> {
  const base = { level: options.level, base: { pid: process.pid, ...bindings } };
  if (options.level === 'silent') return pino({ ...base, enabled: false });
  if (options.pretty) {
    const { default: pretty } = await import('pino-pretty');
    return pino(base, pretty({ destination: options.destination, sync: true, colorize: true }));
  }
  // Synchronous: a line is written before the call returns, so nothing is lost when a worker is
  // terminated; Sluice logs per batch at most, never per event, so the syscall is affordable.
  const destination = pino.destination({ dest: options.destination, sync: true, mkdir: true, append: true });
  return pino(base, destination);
}
