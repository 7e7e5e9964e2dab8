import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { InvalidOptionError, quote, SluiceError } from '../errors.js';
import type { MetricsServerOptions } from '../metrics/metrics-server.js';
import { DEFAULT_HTTP_SOURCE_OPTIONS, type HttpSourceOptions } from '../sources/http-source.js';
import type { NdjsonSourceOptions } from '../sources/ndjson-source.js';
import type { SyntheticSourceOptions } from '../sources/synthetic-source.js';
import { type PipelineOptions, resolvePipelineOptions } from './pipeline-options.js';

/** Which source `sluice run` reads from. */
export type SourceConfig =
  | ({ type: 'synthetic' } & SyntheticSourceOptions)
  | ({ type: 'ndjson' } & Omit<NdjsonSourceOptions, 'stdin'>)
  | ({ type: 'http' } & HttpSourceOptions & { path: string });

/** A `sluice run` config file, validated, `${ENV}` interpolated and paths resolved. */
export interface RunConfig {
  source: SourceConfig;
  /** Everything the pipeline takes: sink, deadLetter, transform, queue, workers, batch, retry, ordering, log. */
  pipeline: PipelineOptions;
  /** Serve the metrics server (createMetricsServer) while running; omitted: no server. */
  metrics: MetricsServerOptions | undefined;
  /** How long a shutdown waits for the drain, ms. @default 30000 */
  shutdownTimeoutMs: number;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

const PIPELINE_KEYS = [
  'transform',
  'sink',
  'deadLetter',
  'queue',
  'workers',
  'batch',
  'retry',
  'ordering',
  'log',
];
const TOP_LEVEL_KEYS = ['source', ...PIPELINE_KEYS, 'metrics', 'shutdownTimeoutMs'];
const SOURCE_KEYS: Record<string, readonly string[]> = {
  synthetic: ['type', 'rate', 'events', 'keys'],
  ndjson: ['type', 'path', 'maxLineBytes'],
  http: ['type', 'host', 'port', 'path', 'token', 'maxBodyBytes', 'fullWaitMs'],
};
const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The config file is unusable; `errors` lists every problem, each naming the field and quoting the value. */
export class RunConfigError extends SluiceError {
  readonly errors: readonly string[];

  constructor(file: string, errors: readonly string[]) {
    super('SLUICE_INVALID_OPTION', `${file}: ${errors.join('; ')}`);
    this.errors = errors;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function mustBe(field: string, expectation: string, value: unknown): string {
  return new InvalidOptionError(field, expectation, value).message;
}

/** Replaces `${NAME}` in every string value; an unset variable is an error naming it and the field. */
function interpolate(value: Json, field: string, env: NodeJS.ProcessEnv, errors: string[]): Json {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (reference, name: string) => {
      const set = env[name];
      if (set === undefined) {
        errors.push(`${field} refers to \${${name}}, which is not set, got ${quote(value)}`);
        return reference;
      }
      return set;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, `${field}[${i}]`, env, errors));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolate(item, field === '' ? key : `${field}.${key}`, env, errors);
    }
    return out;
  }
  return value;
}

function unknownKeys(
  field: string,
  value: Record<string, unknown>,
  known: readonly string[],
  errors: string[],
) {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      errors.push(
        `${field === '' ? key : `${field}.${key}`} is not a known field (expected one of ${known.join(', ')}), got ${quote(value[key])}`,
      );
    }
  }
}

/** A path in the config is relative to the config file's directory. */
function fromConfig(baseDir: string, path: string): string {
  return isAbsolute(path) || /^[a-z][a-z0-9+.-]*:/i.test(path) ? path : resolve(baseDir, path);
}

function resolveSource(raw: unknown, baseDir: string, errors: string[]): SourceConfig | undefined {
  if (!isObject(raw)) {
    errors.push(mustBe('source', 'an object with a type (synthetic or ndjson)', raw));
    return undefined;
  }
  const known = SOURCE_KEYS[raw.type as string];
  if (typeof raw.type !== 'string' || known === undefined) {
    errors.push(mustBe('source.type', '"synthetic", "ndjson" or "http"', raw.type));
    return undefined;
  }
  unknownKeys('source', raw, known, errors);
  const before = errors.length;
  const positiveInteger = (field: string) => {
    const value = raw[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 1)) {
      errors.push(mustBe(`source.${field}`, 'a positive integer', value));
    }
  };
  if (raw.type === 'synthetic') {
    const rate = raw.rate;
    if (
      rate !== undefined &&
      rate !== 'max' &&
      (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0)
    ) {
      errors.push(mustBe('source.rate', 'a positive number or "max"', rate));
    }
    positiveInteger('events');
    positiveInteger('keys');
    if (errors.length > before) return undefined;
    return raw as SourceConfig;
  }
  if (raw.type === 'http') {
    if (raw.host !== undefined && (typeof raw.host !== 'string' || raw.host === '')) {
      errors.push(mustBe('source.host', 'a host name or address', raw.host));
    }
    const port = raw.port;
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) {
      errors.push(mustBe('source.port', 'a port from 0 to 65535', port));
    }
    if (raw.path !== undefined && (typeof raw.path !== 'string' || !raw.path.startsWith('/'))) {
      errors.push(mustBe('source.path', 'a URL path starting with "/"', raw.path));
    }
    if (raw.token !== undefined && (typeof raw.token !== 'string' || raw.token === '')) {
      errors.push(mustBe('source.token', 'a non-empty string', raw.token));
    }
    positiveInteger('maxBodyBytes');
    const wait = raw.fullWaitMs;
    if (wait !== undefined && (!Number.isSafeInteger(wait) || (wait as number) < 0)) {
      errors.push(mustBe('source.fullWaitMs', 'an integer of milliseconds ≥ 0', wait));
    }
    if (errors.length > before) return undefined;
    // `path` here is the URL path, not a file: it is not resolved against the config's directory.
    return {
      ...(raw as unknown as HttpSourceOptions & { type: 'http' }),
      path: (raw.path as string | undefined) ?? DEFAULT_HTTP_SOURCE_OPTIONS.path,
    };
  }
  if (typeof raw.path !== 'string' || raw.path === '') {
    errors.push(mustBe('source.path', 'a file path or "-" for stdin', raw.path));
  }
  positiveInteger('maxLineBytes');
  if (errors.length > before) return undefined;
  const path = raw.path as string;
  return {
    ...(raw as SourceConfig & { type: 'ndjson' }),
    path: path === '-' ? path : fromConfig(baseDir, path),
  };
}

function resolveMetrics(raw: unknown, errors: string[]): MetricsServerOptions | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) {
    errors.push(mustBe('metrics', 'an object { host?, port? }', raw));
    return undefined;
  }
  unknownKeys('metrics', raw, ['host', 'port'], errors);
  if (raw.host !== undefined && (typeof raw.host !== 'string' || raw.host === '')) {
    errors.push(mustBe('metrics.host', 'a host name or address', raw.host));
  }
  const port = raw.port;
  if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) {
    errors.push(mustBe('metrics.port', 'a port from 0 to 65535', port));
  }
  return raw as MetricsServerOptions;
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

/**
 * Validates a parsed config (every problem collected, not just the first), interpolates `${ENV}`
 * and resolves relative paths against `baseDir`.
 */
export function resolveRunConfig(
  parsed: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
  file = 'config',
): RunConfig {
  const errors: string[] = [];
  if (!isObject(parsed)) throw new RunConfigError(file, [mustBe('config', 'a JSON object', parsed)]);
  const raw = interpolate(parsed as Json, '', env, errors) as Record<string, unknown>;
  unknownKeys('', raw, TOP_LEVEL_KEYS, errors);
  const source = resolveSource(raw.source, baseDir, errors);
  if (raw.sink === undefined) errors.push(mustBe('sink', 'a sink spec object', raw.sink));
  const metrics = resolveMetrics(raw.metrics, errors);
  const timeout = raw.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeout) || (timeout as number) < 1) {
    errors.push(mustBe('shutdownTimeoutMs', 'a positive integer of milliseconds', timeout));
  }
  const pipeline: Record<string, unknown> = {};
  for (const key of PIPELINE_KEYS) if (raw[key] !== undefined) pipeline[key] = raw[key];
  if (typeof pipeline.transform === 'string' && pipeline.transform !== '') {
    pipeline.transform = fromConfig(baseDir, pipeline.transform);
  }
  pipeline.sink = resolveSinkPaths(pipeline.sink, baseDir);
  if (pipeline.deadLetter !== undefined) pipeline.deadLetter = resolveSinkPaths(pipeline.deadLetter, baseDir);
  pipeline.log = { level: 'info', ...(isObject(pipeline.log) ? pipeline.log : {}) };
  if (raw.log !== undefined && !isObject(raw.log)) errors.push(mustBe('log', 'an object', raw.log));
  if (raw.sink !== undefined) {
    // The pipeline's own validation stops at its first problem; it runs on what is left to check.
    try {
      resolvePipelineOptions(pipeline as PipelineOptions);
    } catch (error) {
      if (!(error instanceof SluiceError)) throw error;
      errors.push(error.message);
    }
  }
  if (errors.length > 0 || source === undefined) throw new RunConfigError(file, errors);
  return {
    source,
    pipeline: pipeline as PipelineOptions,
    metrics,
    shutdownTimeoutMs: timeout as number,
  };
}

/** Reads a JSON config file (YAML is not supported yet) and resolves it; see resolveRunConfig. */
export function loadRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const extension = extname(file).toLowerCase();
  if (extension === '.yaml' || extension === '.yml') {
    throw new RunConfigError(file, [
      `YAML is not supported yet; write the config as JSON, got ${quote(file)}`,
    ]);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RunConfigError(file, [
      mustBe('--config', 'a readable file', `${file} (${(error as Error).message})`),
    ]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RunConfigError(file, [`the file is not valid JSON: ${(error as Error).message}`]);
  }
  return resolveRunConfig(parsed, dirname(resolve(file)), env, file);
}
