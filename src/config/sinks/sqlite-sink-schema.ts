import { z } from 'zod';
import { DEFAULT_SQLITE_SINK_OPTIONS, type ResolvedSqliteSinkOptions } from '../../sinks/sqlite-sink.js';
import {
  acrossFields,
  integer,
  MAX_TIMER_MS,
  nonEmptyString,
  oneOf,
  strictObject,
} from '../option-schema.js';
import { checkMappedColumns, mappedColumnFields, resolveOnConflict } from './column-mapping-schema.js';
import { sqlIdentifier } from './sql-identifier.js';

const d = DEFAULT_SQLITE_SINK_OPTIONS;

const fields = strictObject({
  type: z.literal('sqlite'),
  path: nonEmptyString('a file path'),
  table: sqlIdentifier().default(d.table),
  synchronous: oneOf(['normal', 'full']).default(d.synchronous),
  // SQLite takes the busy timeout as a C int of ms.
  busyTimeoutMs: integer(0, MAX_TIMER_MS, `an integer of milliseconds from 0 to ${MAX_TIMER_MS}`).default(
    d.busyTimeoutMs,
  ),
  ...mappedColumnFields,
});

export const sqliteSinkSchema = acrossFields(fields, checkMappedColumns).transform(
  ({ columns, onConflict, ...rest }): { type: 'sqlite' } & ResolvedSqliteSinkOptions =>
    columns === undefined ? rest : { ...rest, columns, onConflict: resolveOnConflict(columns, onConflict) },
);
