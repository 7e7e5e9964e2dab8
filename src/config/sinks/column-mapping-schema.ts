import { z } from 'zod';
import { type ColumnMap, type OnConflict, parseColumnPath } from '../../sinks/column-mapping.js';
import { must, oneOf } from '../option-schema.js';
import { sqlIdentifier } from './sql-identifier.js';

const columnPath = z
  .string(must('a path: id, key, source, ts, payload or payload.<key>…'))
  .superRefine((path, ctx) => {
    const parsed = parseColumnPath(path);
    if (typeof parsed === 'string')
      ctx.addIssue({ code: 'custom', message: `must be ${parsed}`, input: path });
  });

/**
 * The fields a SQL sink takes to write into the user's own table: `columns` (column → path into
 * the event) and `onConflict`; shared by the SQLite and PostgreSQL sink schemas.
 */
export const mappedColumnFields = {
  columns: z
    .record(sqlIdentifier(), columnPath, must('an object { column: path }'))
    .refine((columns) => Object.keys(columns).length > 0, must('at least one column'))
    .optional(),
  onConflict: z
    .strictObject(
      {
        target: z.array(sqlIdentifier(), must('a list of columns')).min(1, must('at least one column')),
        action: oneOf(['nothing', 'update']).default('nothing'),
      },
      must('an object { target, action? }'),
    )
    .optional(),
};

/**
 * The rules across them: a conflict target names mapped columns, and without one the column
 * mapped from `id` is the target (idempotence needs a unique key); onConflict without columns
 * and createTable with columns mean nothing. `report(field, expectation)` as acrossFields gives it.
 */
export function checkMappedColumns(
  given: Record<string, unknown>,
  report: (field: string, expectation: string) => void,
): void {
  const columns = given.columns as Record<string, unknown> | undefined;
  const onConflict = given.onConflict as { target?: unknown } | undefined;
  if (columns === undefined || typeof columns !== 'object') {
    if (onConflict !== undefined)
      report('onConflict', 'set only with columns (the envelope table conflicts on id)');
    return;
  }
  if (given.createTable === true)
    report('createTable', 'left out with columns: only the envelope table is created');
  const names = Object.keys(columns);
  if (onConflict === undefined) {
    if (!names.some((name) => columns[name] === 'id'))
      report('onConflict', 'set when no column is mapped from id: the unique key a redelivered event meets');
    return;
  }
  if (Array.isArray(onConflict.target)) {
    const unknown = onConflict.target.filter(
      (column) => typeof column === 'string' && !names.includes(column),
    );
    if (unknown.length > 0)
      report(
        'onConflict',
        `a target made of mapped columns (${names.join(', ')}), not ${unknown.join(', ')}`,
      );
  }
}

/** The conflict rule a mapped table is written with: as configured, else on the column mapped from `id`. */
export function resolveOnConflict(columns: ColumnMap, onConflict: OnConflict | undefined): OnConflict {
  if (onConflict) return onConflict;
  const idColumn = Object.keys(columns).find((name) => columns[name] === 'id');
  if (idColumn === undefined) throw new TypeError('onConflict is needed when no column is mapped from id');
  return { target: [idColumn], action: 'nothing' };
}
