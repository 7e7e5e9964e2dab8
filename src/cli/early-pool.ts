import { readFileSync, statSync } from 'node:fs';
import type { PrestartedPool } from '../engine/worker-pool.js';
import { parseFlags, runFlagOptions } from './parse-flags.js';

/** A config larger than this is not read twice (none is: a config is a few KiB). */
const MAX_PEEK_BYTES = 1024 * 1024;

/**
 * `sluice run`'s worker pool, started before the command's modules load (PrestartedPool), when the
 * run will take it: not for help, nor for --profile (its run happens in a child process), and
 * only when the config file does not mention `workers` — a pool of other workers options would be
 * started for nothing, so a config that may set them (the word anywhere in it: read, not parsed,
 * since the parser and the validation are what is still loading) starts its pool as it always did.
 */
export async function startEarlyPool(argv: readonly string[]): Promise<PrestartedPool | undefined> {
  let file: unknown;
  try {
    // Read as the command reads them: flags it would refuse start nothing, and it says why.
    const values = parseFlags([...argv], runFlagOptions('run'), 'sluice run --help');
    if (values.help || values.profile !== undefined) return undefined;
    file = values.config;
  } catch {
    return undefined;
  }
  if (typeof file !== 'string' || file === '') return undefined;
  let text: string;
  try {
    // A regular file only: a pipe (`--config /dev/stdin`, `<(…)`) can be read once, by the command.
    const stat = statSync(file);
    if (!stat.isFile() || stat.size > MAX_PEEK_BYTES) return undefined;
    text = readFileSync(file, 'utf8');
  } catch {
    // The command says what is wrong with it.
    return undefined;
  }
  if (text.includes('workers')) return undefined;
  return (await import('../engine/worker-pool.js')).PrestartedPool.start();
}
