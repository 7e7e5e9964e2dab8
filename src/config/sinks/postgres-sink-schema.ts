import { z } from 'zod';
import {
  DEFAULT_POSTGRES_SINK_OPTIONS,
  QUERY_TIMEOUT_MARGIN_MS,
  type ResolvedPostgresSinkOptions,
} from '../../sinks/postgres-sink.js';
import {
  acrossFields,
  boolean,
  integer,
  MAX_TIMER_MS,
  nonEmptyString,
  positiveInteger,
  strictObject,
} from '../option-schema.js';
import { checkMappedColumns, mappedColumnFields, resolveOnConflict } from './column-mapping-schema.js';
import { sqlIdentifier } from './sql-identifier.js';

const d = DEFAULT_POSTGRES_SINK_OPTIONS;
// The pool and the client set timers of these lengths, and a Node timer waits at most MAX_TIMER_MS.
const timeout = () => integer(1, MAX_TIMER_MS, `a whole number of ms from 1 to ${MAX_TIMER_MS}`);

const fields = strictObject({
  type: z.literal('postgres'),
  connectionString: nonEmptyString('a connection string').optional(),
  table: sqlIdentifier().default(d.table),
  poolSize: positiveInteger('a positive whole number of connections').default(d.poolSize),
  statementTimeoutMs: timeout().default(d.statementTimeoutMs),
  connectTimeoutMs: timeout().default(d.connectTimeoutMs),
  queryTimeoutMs: timeout().optional(),
  keepAlive: boolean().default(d.keepAlive),
  ...mappedColumnFields,
});

/** DATABASE_URL as the main thread sees it when the options are resolved; empty is unset. */
const databaseUrl = () => process.env.DATABASE_URL || undefined;

export const postgresSinkSchema = acrossFields(fields, (given, report) => {
  if (given.connectionString === undefined && databaseUrl() === undefined) {
    report('connectionString', 'a connection string (DATABASE_URL is not set)');
  }
  checkMappedColumns(given, report);
}).transform(
  ({
    connectionString,
    queryTimeoutMs,
    columns,
    onConflict,
    ...rest
  }): { type: 'postgres' } & ResolvedPostgresSinkOptions => ({
    ...rest,
    connectionString: connectionString ?? (databaseUrl() as string),
    queryTimeoutMs:
      queryTimeoutMs ?? Math.min(rest.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS, MAX_TIMER_MS),
    // Without columns, the envelope table: no mapping fields at all, as before they existed.
    ...(columns === undefined ? {} : { columns, onConflict: resolveOnConflict(columns, onConflict) }),
  }),
);
