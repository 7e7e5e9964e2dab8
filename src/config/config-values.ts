/**
 * What a config file's values become before validation: `${NAME}` filled in from the environment,
 * and relative paths resolved against the config file's directory.
 */
import { isAbsolute, resolve } from 'node:path';
import { quote } from '../errors.js';
import { isObject } from './option-schema.js';
import type { SourceConfig } from './source-config.js';

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = readonly PropertyKey[];

/** `source.subjects[0]`; the whole config is `config`. */
function fieldName(path: Path): string {
  let name = '';
  for (const key of path) {
    if (typeof key === 'number') name += `[${key}]`;
    else name += name === '' ? String(key) : `.${String(key)}`;
  }
  return name === '' ? 'config' : name;
}

/**
 * Deeper than any config: past it a value is refused rather than walked, so that no file can make
 * the walk overflow the stack (a config error, not an internal one).
 */
export const MAX_CONFIG_DEPTH = 100;

/**
 * Replaces `${NAME}` in every string value; an unset variable is an error naming it and the field.
 * A value that holds itself — a YAML alias inside its own anchor (`a: &a [*a]`), the only way a
 * parsed file can hold a cycle — or that nests deeper than MAX_CONFIG_DEPTH is an error naming the
 * field too, and becomes null: walked, it would overflow the stack. `holders`: the objects and
 * arrays being walked, outermost first, each with its path.
 */
export function interpolate(
  value: Json,
  path: Path,
  env: NodeJS.ProcessEnv,
  errors: string[],
  holders: Map<object, Path> = new Map(),
): Json {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (reference, name: string) => {
      const set = env[name];
      if (set === undefined) {
        errors.push(`${fieldName(path)} refers to \${${name}}, which is not set, got ${quote(value)}`);
        return reference;
      }
      return set;
    });
  }
  if (value === null || typeof value !== 'object') return value;
  const holder = holders.get(value);
  if (holder !== undefined) {
    errors.push(
      `${fieldName(path)} is ${fieldName(holder)} itself, which holds it (a YAML alias inside its own anchor): a value without end`,
    );
    return null;
  }
  if (path.length >= MAX_CONFIG_DEPTH) {
    errors.push(`${fieldName(path)} nests more than ${MAX_CONFIG_DEPTH} levels deep`);
    return null;
  }
  holders.set(value, path);
  try {
    if (Array.isArray(value))
      return value.map((item, i) => interpolate(item, [...path, i], env, errors, holders));
    // fromEntries defines each key, so a "__proto__" key stays a key rather than a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolate(item, [...path, key], env, errors, holders),
      ]),
    );
  } finally {
    holders.delete(value);
  }
}

/** A path in the config is relative to the config file's directory. */
function fromConfig(baseDir: string, path: string): string {
  return isAbsolute(path) || /^[a-z][a-z0-9+.-]*:/i.test(path) ? path : resolve(baseDir, path);
}

export function resolveSourcePaths(source: SourceConfig, baseDir: string): SourceConfig {
  if (source.type !== 'ndjson' || source.path === '-') return source;
  return { ...source, path: fromConfig(baseDir, source.path) };
}

/** Sink and dead-letter file paths and module paths are relative to the config file. */
function resolveSinkPaths(spec: unknown, baseDir: string): unknown {
  if (!isObject(spec)) return spec;
  const out = { ...spec };
  if (typeof out.path === 'string' && out.path !== '' && out.path !== ':memory:') {
    out.path = fromConfig(baseDir, out.path);
  }
  if (typeof out.module === 'string' && out.module !== '') out.module = fromConfig(baseDir, out.module);
  return out;
}

/** The pipeline's paths, resolved before validation: they cross to worker threads resolved. */
export function resolvePipelinePaths(
  config: Record<string, unknown>,
  baseDir: string,
): Record<string, unknown> {
  const out = { ...config };
  if (typeof out.transform === 'string' && out.transform !== '')
    out.transform = fromConfig(baseDir, out.transform);
  if (out.sink !== undefined) out.sink = resolveSinkPaths(out.sink, baseDir);
  if (out.deadLetter !== undefined) out.deadLetter = resolveSinkPaths(out.deadLetter, baseDir);
  if (isObject(out.queue) && typeof out.queue.path === 'string' && out.queue.path !== '')
    out.queue = { ...out.queue, path: fromConfig(baseDir, out.queue.path) };
  if (out.routes !== null && typeof out.routes === 'object' && !Array.isArray(out.routes)) {
    const routes: Record<string, unknown> = {};
    for (const [name, route] of Object.entries(out.routes as Record<string, unknown>)) {
      if (route === null || typeof route !== 'object' || Array.isArray(route)) {
        routes[name] = route;
        continue;
      }
      const r = { ...(route as Record<string, unknown>) };
      if (r.sink !== undefined) r.sink = resolveSinkPaths(r.sink, baseDir);
      if (r.deadLetter !== undefined) r.deadLetter = resolveSinkPaths(r.deadLetter, baseDir);
      routes[name] = r;
    }
    out.routes = routes;
  }
  return out;
}
