import { spawnSync } from 'node:child_process';
import type { LoadSystem } from './load-system.js';
import { runSingleChild } from './single-child.js';
import { createTableSql } from './target-table.js';

/** Debian's interpreter, where `apt-get install python3-asyncpg` puts the module. */
const PYTHON = '/usr/bin/python3';
/** The script is not compiled: it is read from the source tree (dist/bench/postgres-load → bench/postgres-load). */
const SCRIPT = new URL('../../../bench/postgres-load/asyncpg-load.py', import.meta.url).pathname;

export const pythonAsyncpg: LoadSystem = {
  name: 'python-asyncpg',
  describe: 'Python asyncio: bounded queue, 4 consumers, asyncpg executemany of 1000-row batches',
  async unavailable() {
    const probe = spawnSync(PYTHON, ['-c', 'import asyncpg'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status === 0) return undefined;
    const why = probe.error?.message ?? probe.stderr.trim().split('\n').pop();
    return `${PYTHON} cannot import asyncpg (${why}); apt-get install python3-asyncpg`;
  },
  run: (job) =>
    runSingleChild({
      label: 'python',
      command: PYTHON,
      args: [SCRIPT, job.databaseUrl, job.file, job.table, createTableSql(job.table)],
      cwd: job.workDir,
      timeoutMs: job.timeoutMs,
    }),
};
