/**
 * The building blocks of every option schema (zod). Each issue's message is a predicate on its
 * field ("must be a positive integer"), so a problem always reads `${field} ${message}, got ${value}`
 * (see problemsOf), whichever check raised it.
 *
 * Schemas are main-thread code: zod takes ~100 ms to import, so worker threads never load it. They
 * receive resolved options and import only types and defaults from the option modules.
 */
import { z } from 'zod';

export const must = (expectation: string) => ({ error: `must be ${expectation}` });

/** The longest delay a Node timer takes, ms; a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** An integer from `min` to `max`, each bound inclusive. */
export function integer(min: number, max: number, expectation = `an integer from ${min} to ${max}`) {
  const error = must(expectation);
  return z.int(error).min(min, error).max(max, error);
}

/** A finite number from `min` to `max`, each bound inclusive. */
export function numberFrom(min: number, max: number, expectation: string) {
  const error = must(expectation);
  return z.number(error).min(min, error).max(max, error);
}

/** `schema`, or Infinity ("no limit"). */
export function orInfinity<Schema extends z.ZodNumber>(schema: Schema, expectation: string) {
  const error = must(expectation);
  return z.union([schema, z.literal(Number.POSITIVE_INFINITY, error)], error);
}

export const positiveInteger = (expectation = 'a positive integer') =>
  integer(1, Number.MAX_SAFE_INTEGER, expectation);

export const nonEmptyString = (expectation = 'a non-empty string') =>
  z.string(must(expectation)).min(1, must(expectation));

export const boolean = () => z.boolean(must('true or false'));

/** One of `values`; the expectation defaults to them quoted, as a config file spells them. */
export function oneOf<const Values extends readonly [string, ...string[]]>(
  values: Values,
  expectation = orList(values.map((value) => JSON.stringify(value))),
) {
  return z.enum(values, must(expectation));
}

/** A module URL or path (a URL object becomes its href, which crosses to worker threads). */
export function moduleReference(expectation = 'a module URL or path') {
  const error = must(expectation);
  return z
    .union([z.string(error).min(1, error), z.instanceof(URL, error)], error)
    .transform((module) => (typeof module === 'string' ? module : module.href));
}

const PORT = 'a port from 0 to 65535';
export const port = () => integer(0, 65535, PORT);

/** `a, b or c` */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * An object that rejects keys it does not know, naming the ones it does (`known`, when some keys of
 * the shape are not for users to give).
 */
export function strictObject<Shape extends z.ZodRawShape>(
  shape: Shape,
  expectation = 'an object',
  known: readonly string[] = Object.keys(shape),
) {
  const unknown = `is not a known field (expected one of ${known.join(', ')})`;
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknown : `must be ${expectation}`),
  });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Runs a rule across an object's fields even when one of them failed its own check, so the rule's
 * problem is reported with the others; `rule` sees the fields as given and checks what it reads.
 */
export function acrossFields<Schema extends z.ZodType>(
  schema: Schema,
  rule: (fields: Record<string, unknown>, report: (field: string, expectation: string) => void) => void,
): Schema {
  return schema.superRefine(
    (fields, ctx) =>
      rule(fields as Record<string, unknown>, (field, expectation) =>
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `must be ${expectation}`,
          input: (fields as Record<string, unknown>)[field],
        }),
      ),
    { when: (payload) => isObject(payload.value) },
  );
}
