import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';

export type FlagValues = Record<string, string | boolean | undefined>;

/** The first 'quoted' word of a node:util parseArgs message: the option or argument at fault. */
function quoted(message: string): string | undefined {
  return /'([^']*)'/.exec(message)?.[1];
}

/** A parseArgs failure in the words of a command line: what was wrong, and where the flags are listed. */
function usageProblem(error: unknown, help: string): string {
  const { code, message } = error as { code?: string; message: string };
  const at = quoted(message);
  if (at !== undefined) {
    switch (code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        return `unknown option '${at}'; see '${help}'`;
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        // parseArgs quotes the option as '--name <value>' when its value is missing.
        return at.endsWith(' <value>')
          ? `option '${at.slice(0, -' <value>'.length)}' needs a value; see '${help}'`
          : `option '${at}' takes no value; see '${help}'`;
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        return `unexpected argument '${at}'; see '${help}'`;
    }
  }
  return `arguments must be known flags with their values (see '${help}'), got ${JSON.stringify(message)}`;
}

/**
 * Strict flag parsing for every `sluice` command: an unknown flag, a missing value or a stray
 * argument becomes an InvalidOptionError (exit 64) saying so plainly, quoting what was given and
 * pointing at the command's help (`help` is the command line that prints it).
 */
export function parseFlags(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  help: string,
): FlagValues {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values as FlagValues;
  } catch (error) {
    throw new InvalidOptionError([usageProblem(error, help)]);
  }
}

/** The flags of `sluice run` and `sluice validate` (one help page for both: `sluice run --help`). */
export function runFlagOptions(command: 'run' | 'validate'): NonNullable<ParseArgsConfig['options']> {
  return {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...(command === 'validate'
      ? { connect: { type: 'boolean' } }
      : { profile: { type: 'string' }, 'profile-seconds': { type: 'string' } }),
  };
}
