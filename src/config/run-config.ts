import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { z } from 'zod';
import { InvalidOptionError, quote, SluiceError } from '../errors.js';
import type { MetricsServerOptions } from '../metrics/metrics-server.js';
import { DEFAULT_HTTP_SOURCE_OPTIONS, type HttpSourceOptions } from '../sources/http-source.js';
import type { NatsJetStreamSourceOptions } from '../sources/nats-jetstream-source.js';
import type { NdjsonSourceOptions } from '../sources/ndjson-source.js';
import type { RedisStreamsSourceOptions } from '../sources/redis-streams-source.js';
import { requireHoldingQueue } from '../sources/source.js';
import type { SyntheticSourceOptions } from '../sources/synthetic-source.js';
import { type PipelineOptions, resolvePipelineOptions } from './pipeline-options.js';

/** A NATS JetStream stream read through a durable pull consumer (see NatsJetStreamSource). */
export type NatsJetStreamSourceConfig = { type: 'nats-jetstream' } & NatsJetStreamSourceOptions;

/** A Redis stream read through a consumer group (see RedisStreamsSource). */
export type RedisStreamsSourceConfig = { type: 'redis-streams' } & RedisStreamsSourceOptions;

/** Which source `sluice run` reads from. */
export type SourceConfig =
  | ({ type: 'synthetic' } & SyntheticSourceOptions)
  | ({ type: 'ndjson' } & Omit<NdjsonSourceOptions, 'stdin'>)
  | ({ type: 'http' } & HttpSourceOptions & { path: string })
  | NatsJetStreamSourceConfig
  | RedisStreamsSourceConfig;

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

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The config file is unusable; `errors` lists every problem, each naming the field and quoting the value. */
export class RunConfigError extends SluiceError {
  readonly errors: readonly string[];

  constructor(file: string, errors: readonly string[]) {
    super('SLUICE_INVALID_OPTION', `${file}: ${errors.join('; ')}`);
    this.errors = errors;
  }
}

// Every issue's message is a predicate on the field ("must be a positive integer"), so a problem
// reads `${field} ${message}, got ${value}` whichever check raised it.
const must = (expectation: string) => ({ error: `must be ${expectation}` });

const positiveInteger = (expectation = 'a positive integer') =>
  z.int(must(expectation)).min(1, must(expectation));

const nonEmptyString = (expectation = 'a non-empty string') =>
  z.string(must(expectation)).min(1, must(expectation));

const PORT = must('a port from 0 to 65535');
const port = () => z.int(PORT).min(0, PORT).max(65535, PORT);

/** An object that rejects keys it does not know, naming the ones it does. */
function strictObject<Shape extends z.ZodRawShape>(shape: Shape, expectation = 'an object') {
  const known = `is not a known field (expected one of ${Object.keys(shape).join(', ')})`;
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? known : `must be ${expectation}`),
  });
}

const RATE = must('a positive number or "max"');
const syntheticSource = strictObject({
  type: z.literal('synthetic'),
  rate: z.union([z.literal('max', RATE), z.number(RATE).positive(RATE)], RATE).optional(),
  events: positiveInteger().optional(),
  keys: positiveInteger().optional(),
});

const ndjsonSource = strictObject({
  type: z.literal('ndjson'),
  path: nonEmptyString('a file path or "-" for stdin'),
  maxLineBytes: positiveInteger().optional(),
});

const httpSource = strictObject({
  type: z.literal('http'),
  host: nonEmptyString('a host name or address').optional(),
  port: port().optional(),
  // The URL path, not a file: it is not resolved against the config's directory.
  path: z
    .string(must('a URL path starting with "/"'))
    .startsWith('/', must('a URL path starting with "/"'))
    .default(DEFAULT_HTTP_SOURCE_OPTIONS.path),
  token: nonEmptyString().optional(),
  maxBodyBytes: positiveInteger().optional(),
  maxInFlightBytes: positiveInteger().optional(),
  fullWaitMs: z
    .int(must('an integer of milliseconds ≥ 0'))
    .min(0, must('an integer of milliseconds ≥ 0'))
    .optional(),
});

const SERVERS = must('a server URL or a non-empty array of them');
const natsJetStreamSource = strictObject({
  type: z.literal('nats-jetstream'),
  servers: z
    .union(
      [z.string(SERVERS).min(1, SERVERS), z.array(nonEmptyString('a server URL'), SERVERS).min(1, SERVERS)],
      SERVERS,
    )
    .optional(),
  stream: nonEmptyString('a stream name'),
  subjects: z.array(nonEmptyString('a subject'), must('an array of subjects')).optional(),
  durable: nonEmptyString('a consumer name'),
  filterSubject: nonEmptyString('a subject').optional(),
  batch: positiveInteger().optional(),
  ackWaitMs: positiveInteger('a positive integer of milliseconds').optional(),
  maxAckPending: positiveInteger().optional(),
});

const redisStreamsSource = strictObject({
  type: z.literal('redis-streams'),
  url: nonEmptyString('a Redis URL').optional(),
  stream: nonEmptyString('a stream key'),
  group: nonEmptyString('a consumer group name'),
  consumer: nonEmptyString('a consumer name').optional(),
  batch: positiveInteger().optional(),
  blockMs: positiveInteger('a positive integer of milliseconds').optional(),
  claimIdleMs: positiveInteger('a positive integer of milliseconds').optional(),
  field: nonEmptyString('an entry field name').optional(),
  maxPending: positiveInteger().optional(),
});

const SOURCES = [syntheticSource, ndjsonSource, httpSource, natsJetStreamSource, redisStreamsSource] as const;
const SOURCE_TYPES = SOURCES.map((source) => source.shape.type.value);

const sourceSchema = z.discriminatedUnion('type', SOURCES, {
  // A type no variant has is reported at `source.type`; a source that is no object, at `source`.
  error: (issue) =>
    issue.code === 'invalid_union'
      ? `must be ${orList(SOURCE_TYPES.map((type) => JSON.stringify(type)))}`
      : `must be an object with a type (${orList(SOURCE_TYPES)})`,
}) satisfies z.ZodType<SourceConfig>;

/** Pipeline options are validated by resolvePipelineOptions; the schema only admits their keys. */
const pipelineOption = z.unknown().optional();

const runConfigSchema = strictObject({
  source: sourceSchema,
  transform: pipelineOption,
  sink: z.custom<unknown>((value) => value !== undefined, must('a sink spec object')),
  deadLetter: pipelineOption,
  queue: pipelineOption,
  workers: pipelineOption,
  batch: pipelineOption,
  retry: pipelineOption,
  ordering: pipelineOption,
  log: z.looseObject({}, must('an object')).optional(),
  metrics: strictObject(
    { host: nonEmptyString('a host name or address').optional(), port: port().optional() },
    'an object { host?, port? }',
  ).optional(),
  shutdownTimeoutMs: positiveInteger('a positive integer of milliseconds').default(
    DEFAULT_SHUTDOWN_TIMEOUT_MS,
  ),
});

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
] as const;

function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = readonly PropertyKey[];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `source.subjects[0]`; the whole config is `config`. */
function fieldName(path: Path): string {
  let name = '';
  for (const key of path) {
    if (typeof key === 'number') name += `[${key}]`;
    else name += name === '' ? String(key) : `.${String(key)}`;
  }
  return name === '' ? 'config' : name;
}

/** The value at `path` in the config as written, undefined where it is missing. */
function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** One line per problem; an issue listing several unknown keys is one problem per key. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return `${fieldName(path)} ${issue.message}, got ${quote(valueAt(input, path))}`;
    });
  }
  return [`${fieldName(issue.path)} ${issue.message}, got ${quote(valueAt(input, issue.path))}`];
}

/** Unknown keys first: a misspelt key explains the "missing" field reported after it. */
function byUnknownKeysFirst(a: z.core.$ZodIssue, b: z.core.$ZodIssue): number {
  return Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys');
}

/** Replaces `${NAME}` in every string value; an unset variable is an error naming it and the field. */
function interpolate(value: Json, path: Path, env: NodeJS.ProcessEnv, errors: string[]): Json {
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
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, [...path, i], env, errors));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines each key, so a "__proto__" key stays a key rather than a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, [...path, key], env, errors)]),
    );
  }
  return value;
}

/** A path in the config is relative to the config file's directory. */
function fromConfig(baseDir: string, path: string): string {
  return isAbsolute(path) || /^[a-z][a-z0-9+.-]*:/i.test(path) ? path : resolve(baseDir, path);
}

function resolveSourcePaths(source: SourceConfig, baseDir: string): SourceConfig {
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
  const input = interpolate(parsed as Json, [], env, errors);
  const result = runConfigSchema.safeParse(input);
  if (!result.success) {
    const issues = [...result.error.issues].sort(byUnknownKeysFirst);
    errors.push(...issues.flatMap((issue) => describeIssue(issue, input)));
  }
  if (!isObject(input)) throw new RunConfigError(file, errors);

  const pipeline: Record<string, unknown> = {};
  for (const key of PIPELINE_KEYS) if (input[key] !== undefined) pipeline[key] = input[key];
  if (typeof pipeline.transform === 'string' && pipeline.transform !== '') {
    pipeline.transform = fromConfig(baseDir, pipeline.transform);
  }
  pipeline.sink = resolveSinkPaths(pipeline.sink, baseDir);
  if (pipeline.deadLetter !== undefined) pipeline.deadLetter = resolveSinkPaths(pipeline.deadLetter, baseDir);
  pipeline.log = { level: 'info', ...(isObject(pipeline.log) ? pipeline.log : {}) };
  if (input.sink !== undefined) {
    // The pipeline's own validation stops at its first problem; it runs on what is left to check.
    try {
      const resolved = resolvePipelineOptions(pipeline as PipelineOptions);
      const source = isObject(input.source) ? input.source.type : undefined;
      if (source === 'nats-jetstream' || source === 'redis-streams') {
        requireHoldingQueue({ options: resolved }, source);
      }
    } catch (error) {
      if (!(error instanceof SluiceError)) throw error;
      errors.push(error.message);
    }
  }
  if (errors.length > 0 || !result.success) throw new RunConfigError(file, errors);
  return {
    source: resolveSourcePaths(result.data.source, baseDir),
    pipeline: pipeline as PipelineOptions,
    metrics: result.data.metrics,
    shutdownTimeoutMs: result.data.shutdownTimeoutMs,
  };
}

/** Where a YAML problem is, and what it is: prettyErrors puts an excerpt after the position, dropped here. */
function describeYamlProblem(problem: YAMLError): string {
  const start = problem.linePos?.[0];
  const where = start === undefined ? '' : ` at line ${start.line}, column ${start.col}`;
  const message = problem.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
  return problem.name === 'YAMLWarning'
    ? `the YAML${where} is not supported: ${message}`
    : `the file is not valid YAML${where}: ${message}`;
}

function parseYaml(text: string, file: string): unknown {
  const document = parseDocument(text, { merge: true, prettyErrors: true, logLevel: 'error' });
  const problems = [...document.errors, ...document.warnings];
  if (problems.length > 0) throw new RunConfigError(file, problems.map(describeYamlProblem));
  try {
    return document.toJS();
  } catch (error) {
    // Aliases resolve here: one whose anchor is missing, or so many that they look like an attack.
    throw new RunConfigError(file, [`the file is not valid YAML: ${(error as Error).message}`]);
  }
}

function parseJson(text: string, file: string, extension: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const hint = extension === '.json' ? '' : ' (only .yaml and .yml files are read as YAML)';
    throw new RunConfigError(file, [`the file is not valid JSON${hint}: ${(error as Error).message}`]);
  }
}

/**
 * Reads a config file, YAML if it ends in .yaml or .yml and JSON otherwise, and resolves it; see
 * resolveRunConfig.
 */
export function loadRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): RunConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RunConfigError(file, [
      new InvalidOptionError('--config', 'a readable file', `${file} (${(error as Error).message})`).message,
    ]);
  }
  const extension = extname(file).toLowerCase();
  const parsed =
    extension === '.yaml' || extension === '.yml' ? parseYaml(text, file) : parseJson(text, file, extension);
  return resolveRunConfig(parsed, dirname(resolve(file)), env, file);
}
