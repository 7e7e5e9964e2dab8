import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadSystem } from './load-system.js';
import { runSingleChild } from './single-child.js';
import { createTableSql, STAGE_COPY_OPTIONS, STAGE_TABLE_SQL, stagedInsertSql } from './target-table.js';

/**
 * The staged load a DBA writes: one psql process, one transaction — `\copy` of the file into a
 * one-column temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING that parses each
 * line as jsonb on the server. The client only streams bytes; the server does the parsing.
 */
export const psqlCopy: LoadSystem = {
  name: 'psql-copy',
  describe:
    'psql: `\\copy` into a temp table, then INSERT … SELECT line::jsonb … ON CONFLICT, one transaction',
  async unavailable() {
    const probe = spawnSync('psql', ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return probe.status === 0
      ? undefined
      : `psql is not installed (${probe.error?.message ?? probe.stderr.trim()})`;
  },
  run(job) {
    const script = join(job.workDir, 'load.sql');
    writeFileSync(
      script,
      [
        'BEGIN;',
        `${createTableSql(job.table)};`,
        `${STAGE_TABLE_SQL};`,
        `\\copy stage (line) FROM '${job.file}' WITH ${STAGE_COPY_OPTIONS}`,
        `${stagedInsertSql(job.table)};`,
        'COMMIT;',
        '',
      ].join('\n'),
    );
    return runSingleChild({
      label: 'psql',
      command: 'psql',
      args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', job.databaseUrl, '-f', script],
      cwd: job.workDir,
      timeoutMs: job.timeoutMs,
    });
  },
};
