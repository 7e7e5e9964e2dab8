import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';

export type FlagValues = Record<string, string | boolean | undefined>;

/**
 * Strict flag parsing for every `sluice` command: an unknown flag or a missing value becomes an
 * InvalidOptionError (exit 64) that quotes what was wrong and points at the command's --help.
 */
export function parseFlags(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  help: string,
): FlagValues {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values as FlagValues;
  } catch (error) {
    throw new InvalidOptionError(
      'arguments',
      `known flags with their values (see ${help})`,
      (error as Error).message,
    );
  }
}
