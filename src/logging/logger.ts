import { type Logger, pino } from 'pino';
import { InvalidOptionError } from '../errors.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LogOptions {
  /** @default 'warn' — a library stays quiet unless asked; the CLI says 'info' */
  level?: LogLevel;
  /**
   * Where every thread writes its lines: a file descriptor or a file path. Each line is one write,
   * so lines from the main thread and the workers never interleave.
   * @default 2 (stderr)
   */
  destination?: number | string;
  /** Human-readable lines (pino-pretty) instead of JSON. @default false */
  pretty?: boolean;
}

export type ResolvedLogOptions = Required<LogOptions>;

export function resolveLogOptions(options: LogOptions = {}): ResolvedLogOptions {
  const level = options.level ?? 'warn';
  if (!LEVELS.includes(level))
    throw new InvalidOptionError('log.level', `one of ${LEVELS.join(', ')}`, level);
  const destination = options.destination ?? 2;
  if (typeof destination !== 'number' && (typeof destination !== 'string' || destination === '')) {
    throw new InvalidOptionError('log.destination', 'a file descriptor or a file path', destination);
  }
  return { level, destination, pretty: Boolean(options.pretty) };
}

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
