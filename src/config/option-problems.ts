import type { z } from 'zod';
import { quote } from '../errors.js';

type Path = readonly PropertyKey[];

/** A key written as it is when it reads as one; others quoted, so a line break or quote in a key stays visible. */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * `source.subjects[0]`, under `prefix` when given; an empty path is `whole`. A key that is no plain
 * name (a route named `a"b` or holding a line break) is written `routes["a\"b"]`.
 */
function fieldName(path: Path, prefix: string, whole: string): string {
  let name = prefix;
  for (const key of path) {
    if (typeof key === 'number') name += `[${key}]`;
    else if (typeof key === 'string' && !PLAIN_KEY.test(key)) name += `[${JSON.stringify(key)}]`;
    else name += name === '' ? String(key) : `.${String(key)}`;
  }
  return name === '' ? whole : name;
}

/** What a problem quotes: the value at its path, or what a custom issue names as `params.got`. */
function gotOf(issue: z.core.$ZodIssue, input: unknown): unknown {
  if (issue.code === 'custom' && issue.params !== undefined && Object.hasOwn(issue.params, 'got'))
    return issue.params.got;
  return valueAt(input, issue.path);
}

/** The value at `path` in the input as given, undefined where it is missing. */
function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Unknown keys first: a misspelt key explains the "missing" field reported after it. */
function byUnknownKeysFirst(a: z.core.$ZodIssue, b: z.core.$ZodIssue): number {
  return Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys');
}

/**
 * One line per problem, each naming the field and quoting the value as given; an issue listing
 * several unknown keys is one problem per key. A custom issue whose `params.problem` holds a whole
 * problem (raised by a check outside the schemas) is kept as it is.
 */
export function problemsOf(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  prefix = '',
  whole = 'options',
): string[] {
  return [...issues].sort(byUnknownKeysFirst).flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const path = [...issue.path, key];
        return `${fieldName(path, prefix, whole)} ${issue.message}, got ${quote(valueAt(input, path))}`;
      });
    }
    const problem = issue.code === 'custom' ? issue.params?.problem : undefined;
    if (typeof problem === 'string') return [problem];
    return [`${fieldName(issue.path, prefix, whole)} ${issue.message}, got ${quote(gotOf(issue, input))}`];
  });
}
