import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadSystem } from './load-system.js';
import { runSingleChild } from './single-child.js';

export const SLUICE_CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

const SUMMARY = /sluice run: (\d+) written, (\d+) dead-lettered/;

/**
 * The built CLI, as a user runs it: an ndjson source, the postgres sink, every other option at its
 * default (workers: 1 up to one per CPU; dead letters to dead-letters.ndjson in the run's
 * directory). Timed from spawn to exit: start-up, the load, the drain and the shutdown.
 */
export const sluiceCli: LoadSystem = {
  name: 'sluice',
  describe: '`sluice run`: ndjson source → postgres sink, every other option default',
  commitsAsItGoes: true,
  run(job) {
    const config = join(job.workDir, 'sluice.json');
    writeFileSync(
      config,
      JSON.stringify({
        source: { type: 'ndjson', path: job.file },
        sink: { type: 'postgres', connectionString: job.databaseUrl, table: job.table },
      }),
    );
    return runSingleChild(
      {
        label: 'sluice',
        command: process.execPath,
        args: [SLUICE_CLI, 'run', '--config', config],
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
