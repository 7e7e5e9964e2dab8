import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadSystem } from './load-system.js';
import { runSingleChild } from './single-child.js';

/** The built `sluice` command, as `bin` names it (the bundle: src/cli/bundle-cli.ts). */
export const SLUICE_CLI = new URL('../../src/cli/sluice.js', import.meta.url).pathname;

const SUMMARY = /sluice run: (\d+) written, (\d+) dead-lettered/;

/**
 * The built CLI, as a user runs it: an ndjson source, the postgres sink, every other option at its
 * default (workers: 1 up to one per CPU; dead letters to dead-letters.ndjson in the run's
 * directory). Timed from spawn to exit: start-up, the load, the drain and the shutdown.
 */
export const sluiceCli: LoadSystem = sluiceCliWith(
  'sluice',
  '`sluice run`: ndjson source → postgres sink, every other option default',
  undefined,
);

/** The command's modules as compiled, one file each, unbundled: what the bundle saves at start-up. */
const UNBUNDLED_CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

/**
 * The same run through the unbundled command (dist/src/cli/main.js, every module its own file):
 * run beside `sluice` (`--systems sluice,sluice-unbundled`) to see what bundling the command saves.
 */
export const sluiceCliUnbundled: LoadSystem = sluiceCliWith(
  'sluice-unbundled',
  '`sluice run` as `sluice`, from the unbundled modules (dist/src/cli/main.js)',
  undefined,
  UNBUNDLED_CLI,
);

/**
 * The same with the workers' young generation at V8's own default (workers.maxYoungGenerationSizeMb
 * 0) instead of Sluice's: run beside `sluice` (`--systems sluice,sluice-young-0`) to choose that
 * default by measurement.
 */
export const sluiceCliYoung0: LoadSystem = sluiceCliWith(
  'sluice-young-0',
  '`sluice run` as `sluice`, workers.maxYoungGenerationSizeMb 0 (V8’s default)',
  { maxYoungGenerationSizeMb: 0 },
);

/**
 * The same with V8's concurrent ArrayBuffer sweeping left on (workers.concurrentArrayBufferSweeping
 * true): run beside `sluice` (`--systems sluice,sluice-concurrent-sweep`) to weigh that default.
 */
export const sluiceCliConcurrentSweep: LoadSystem = sluiceCliWith(
  'sluice-concurrent-sweep',
  '`sluice run` as `sluice`, workers.concurrentArrayBufferSweeping true (V8’s default)',
  { concurrentArrayBufferSweeping: true },
);

function sluiceCliWith(
  name: string,
  describe: string,
  workers: Record<string, unknown> | undefined,
  cli = SLUICE_CLI,
): LoadSystem {
  return {
    name,
    describe,
    commitsAsItGoes: true,
    run(job) {
      const config = join(job.workDir, 'sluice.json');
      writeFileSync(
        config,
        JSON.stringify({
          source: { type: 'ndjson', path: job.file },
          sink: { type: 'postgres', connectionString: job.databaseUrl, table: job.table },
          ...(workers ? { workers } : {}),
        }),
      );
      return runSingleChild(
        {
          label: 'sluice',
          command: process.execPath,
          args: [cli, 'run', '--config', config],
          cwd: job.workDir,
          timeoutMs: job.timeoutMs,
          node: true,
        },
        (stdout) => {
          const summary = SUMMARY.exec(stdout);
          if (!summary) return { failure: 'sluice printed no summary line' };
          const written = Number(summary[1]);
          const deadLettered = Number(summary[2]);
          return {
            ...(written === job.events ? {} : { failure: `sluice wrote ${written} of ${job.events}` }),
            notes: { written, deadLettered },
          };
        },
      );
    },
  };
}
