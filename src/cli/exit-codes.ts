import type { SluiceErrorCode } from '../errors.js';

/**
 * The exit codes of every `sluice` command, BSD sysexits(3) where one fits; docs/CLI.md lists them
 * (and RUN_HELP those of `sluice run` and `sluice validate`).
 */
export const EXIT_OK = 0;
/** The source failed while running, or a Sluice error no other code covers ended the command. */
export const EXIT_FAILURE = 1;
/** `sluice bench`: some system lost events (pushed and accepted, neither written nor dead-lettered). */
export const EXIT_EVENTS_LOST = 2;
/** EX_USAGE: an unknown command or flag, a bad flag value, or a config that is not valid. */
export const EXIT_USAGE = 64;
/** EX_NOINPUT: the config file cannot be read. */
export const EXIT_NO_INPUT = 66;
/** EX_UNAVAILABLE: a sink, the source or the transform could not be opened, reached or loaded, or the workers did not start in time. */
export const EXIT_UNAVAILABLE = 69;
/** EX_SOFTWARE: an error that is not Sluice's own: a bug, printed with its stack. */
export const EXIT_SOFTWARE = 70;
/** EX_TEMPFAIL: the shutdown deadline passed with accepted events neither written nor dead-lettered. */
export const EXIT_SHUTDOWN_DEADLINE = 75;
/** A second signal ended the run at once (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

/** The exit code for an error carrying `code`. */
export function exitCodeFor(code: SluiceErrorCode): number {
  switch (code) {
    case 'SLUICE_INVALID_OPTION':
      return EXIT_USAGE;
    case 'SLUICE_SINK_ERROR':
    case 'SLUICE_SOURCE_ERROR':
    case 'SLUICE_TRANSFORM_ERROR':
    case 'SLUICE_STARTUP_TIMEOUT':
      return EXIT_UNAVAILABLE;
    case 'SLUICE_SHUTDOWN_TIMEOUT':
      return EXIT_SHUTDOWN_DEADLINE;
    default:
      return EXIT_FAILURE;
  }
}
