import { accessSync, constants, fstatSync, type Stats, statSync } from 'node:fs';
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

/** The largest file descriptor there can be: descriptors are C ints. */
const MAX_FD = 2 ** 31 - 1;

/**
 * What is wrong with a destination the schema's types accept, found on the file system: every
 * thread opens it (src/logging/logger.ts) only once the pipeline starts, where a descriptor that is
 * not open (EBADF) or a path that is a directory (EISDIR) failed as an internal error, after
 * `sluice validate` had called the config OK. A path that does not exist yet is fine: it is created,
 * with its missing directories.
 */
function destinationProblem(destination: number | string): string | undefined {
  if (typeof destination === 'number') {
    // Not a descriptor at all: the union's own checks say so, once.
    if (!Number.isInteger(destination) || destination < 0 || destination > MAX_FD) return undefined;
    let stats: Stats;
    try {
      stats = fstatSync(destination);
    } catch {
      return 'must be a file descriptor that is open, or a file path';
    }
    return stats.isDirectory() ? 'must be a file descriptor open on a file, not a directory' : undefined;
  }
  // What is there, when something is: a path that cannot be looked at (ENOENT: not yet; ENOTDIR:
  // under a file) is left for the open to report with its code.
  let stats: Stats;
  try {
    stats = statSync(destination);
  } catch {
    return undefined;
  }
  if (stats.isDirectory()) return 'must be a file path, not a directory';
  try {
    accessSync(destination, constants.W_OK);
  } catch {
    return 'must be a file path that can be written to';
  }
  return undefined;
}

/** Log options, validated and with every default filled in; `level` defaults to `defaultLevel`. */
export function logOptionsSchema(defaultLevel: LogLevel = DEFAULT_LOG_OPTIONS.level) {
  return strictObject({
    level: oneOf(LEVELS, `one of ${LEVELS.join(', ')}`).default(defaultLevel),
    destination: z
      .union(
        [
          z.int(DESTINATION).min(0, DESTINATION).max(MAX_FD, DESTINATION),
          z.string(DESTINATION).min(1, DESTINATION),
        ],
        DESTINATION,
      )
      .superRefine((destination, context) => {
        const problem = destinationProblem(destination);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      })
      // Not checked when left out: a process whose stderr is closed may still start, logging nothing.
      .default(DEFAULT_LOG_OPTIONS.destination),
    pretty: boolean().default(DEFAULT_LOG_OPTIONS.pretty),
  }).transform((log): ResolvedLogOptions => markResolved('log', log));
}

const libraryLogOptions = logOptionsSchema();

/** Merges `options` over the defaults and validates every field, reporting every problem at once. */
export function resolveLogOptions(options: LogOptions = {}): ResolvedLogOptions {
  return resolveOptions(libraryLogOptions, options, 'log', 'log');
}
