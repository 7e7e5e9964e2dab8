import type { z } from 'zod';
import { quote } from '../errors.js';

type Path = readonly PropertyKey[];

/** `source.subjects[0]`, under `prefix` when given; an empty path is `whole`. */
function fieldName(path: Path, prefix: string, whole: string): string {
  let name = prefix;
  for (const key of path) {
    if (typeof key === 'number') name += `[${key}]`;
    else name += name === '' ? String(key) : `.${String(key)}`;
  }
  return name === '' ? whole : name;
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
    return [
      `${fieldName(issue.path, prefix, whole)} ${issue.message}, got ${quote(valueAt(input, issue.path))}`,
    ];
  });
}
