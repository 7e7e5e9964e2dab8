import type { z } from 'zod';
import { InvalidOptionError } from '../errors.js';
import { isResolved, type ResolvedKind } from '../resolved-marker.js';
import { problemsOf } from './option-problems.js';

/**
 * Validates `input` with `schema`, whose output is resolved `kind` options: every problem is
 * reported at once in one InvalidOptionError, fields named under `prefix`. Options this already
 * resolved are returned as they are.
 */
export function resolveOptions<Output>(
  schema: z.ZodType<Output>,
  input: unknown,
  kind: ResolvedKind,
  prefix = '',
): Output {
  if (isResolved(input, kind)) return input as Output;
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidOptionError(problemsOf(result.error.issues, input, prefix));
  return result.data;
}
