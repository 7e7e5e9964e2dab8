import { readFileSync, statSync } from 'node:fs';
import type { PreloadedClient } from '../engine/worker-messages.js';
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
 * Its workers load the PostgreSQL client while they wait for the setup when the config mentions
 * `postgres`.
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
  // A config naming PostgreSQL (its sink, a route's, the dead letters') most likely writes there:
  // the workers load its client while they wait. Loading it for nothing costs an idle worker ~30 ms.
  const preload: PreloadedClient[] = text.includes('postgres') ? ['postgres'] : [];
  return (await import('../engine/worker-pool.js')).PrestartedPool.start(preload);
}
