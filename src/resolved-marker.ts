/**
 * Which objects a resolver returned. A resolved object is frozen when marked, so it is still what
 * was validated: resolving it again returns it at once, and the queue can tell resolved options
 * from options it would otherwise have to validate itself. No zod here: the queue, which worker
 * threads load, imports this.
 */
export type ResolvedKind = 'queue' | 'workers' | 'batch' | 'retry' | 'metrics' | 'log' | 'sink' | 'pipeline';

const kinds = new WeakMap<object, ResolvedKind>();

/** Freezes `value` and remembers it as resolved `kind` options. */
export function markResolved<T extends object>(kind: ResolvedKind, value: T): T {
  Object.freeze(value);
  kinds.set(value, kind);
  return value;
}

/** Whether `value` is an object a resolver returned as `kind` options (copies are not). */
export function isResolved(value: unknown, kind: ResolvedKind): boolean {
  return value !== null && typeof value === 'object' && kinds.get(value) === kind;
}
