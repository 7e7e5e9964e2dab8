import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { ResolvedLogOptions } from '../config/log-options.js';

// Options are resolved on the main thread (src/config/log-options.ts); workers import only this.
export type { LogLevel, LogOptions, ResolvedLogOptions } from '../config/log-options.js';

const requireCjs = createRequire(import.meta.url);

/**
 * A pino logger for this thread, writing to the shared destination. Call it once per thread: the
 * main thread and every worker build their own from the same options (a worker when its first
 * line is due: src/logging/worker-logger.ts). pino and pino-pretty are CommonJS, loaded with
 * `require` when a logger is first built, so a module that imports this one does not load them.
 */
export function createLogger(options: ResolvedLogOptions, bindings: Record<string, unknown>): Logger {
  const { pino } = requireCjs('pino') as typeof import('pino');
  const base = { level: options.level, base: { pid: process.pid, ...bindings } };
  if (options.level === 'silent') return pino({ ...base, enabled: false });
  if (options.pretty) {
    const pretty = requireCjs('pino-pretty') as typeof import('pino-pretty');
    return pino(base, pretty({ destination: options.destination, sync: true, colorize: true }));
  }
  // Synchronous: a line is written before the call returns, so nothing is lost when a worker is
  // terminated; Sluice logs per batch at most, never per event, so the syscall is affordable.
  const destination = pino.destination({ dest: options.destination, sync: true, mkdir: true, append: true });
  return pino(base, destination);
}
