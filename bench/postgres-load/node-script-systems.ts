import type { LoadSystem } from './load-system.js';
import { runSingleChild } from './single-child.js';

const script = (name: string) => new URL(`./${name}.js`, import.meta.url).pathname;

function nodeScript(name: string, file: string, describe: string): LoadSystem {
  return {
    name,
    describe,
    run: (job) =>
      runSingleChild({
        label: name,
        command: process.execPath,
        args: [script(file), job.databaseUrl, job.file, job.table],
        cwd: job.workDir,
        timeoutMs: job.timeoutMs,
        node: true,
      }),
  };
}

/** node-copy-script.ts: pg + pg-copy-streams, staged like psql-copy. */
export const nodeCopy = nodeScript(
  'node-copy',
  'node-copy-script',
  'Node, one thread: pg-copy-streams COPY into a temp table, then INSERT … SELECT … ON CONFLICT',
);

/** node-insert-script.ts: pg, JSON.parse, batches of 1000 through unnest. */
export const nodeInsert = nodeScript(
  'node-script',
  'node-insert-script',
  'Node, one thread: JSON.parse, batches of 1000 as INSERT … unnest … ON CONFLICT, one at a time',
);
