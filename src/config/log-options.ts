import { z } from 'zod';
import { markResolved } from '../resolved-marker.js';
import { boolean, must, oneOf, strictObject } from './option-schema.js';
import { resolveOptions } from './resolve-options.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies LogLevel[];

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

export const DEFAULT_LOG_OPTIONS: Readonly<ResolvedLogOptions> = Object.freeze({
  level: 'warn',
  destination: 2,
  pretty: false,
});

const DESTINATION = must('a file descriptor or a file path');

/** Log options, validated and with every default filled in; `level` defaults to `defaultLevel`. */
export function logOptionsSchema(defaultLevel: LogLevel = DEFAULT_LOG_OPTIONS.level) {
  return strictObject({
    level: oneOf(LEVELS, `one of ${LEVELS.join(', ')}`).default(defaultLevel),
    destination: z
      .union([z.int(DESTINATION).min(0, DESTINATION), z.string(DESTINATION).min(1, DESTINATION)], DESTINATION)
      .default(DEFAULT_LOG_OPTIONS.destination),
    pretty: boolean().default(DEFAULT_LOG_OPTIONS.pretty),
  }).transform((log): ResolvedLogOptions => markResolved('log', log));
}

const libraryLogOptions = logOptionsSchema();

/** Merges `options` over the defaults and validates every field, reporting every problem at once. */
export function resolveLogOptions(options: LogOptions = {}): ResolvedLogOptions {
  return resolveOptions(libraryLogOptions, options, 'log', 'log');
}
