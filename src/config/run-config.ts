import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import type { YAMLError } from 'yaml';
import { z } from 'zod';
import { InvalidOptionError, quote, SluiceError } from '../errors.js';
import type { MetricsServerOptions } from '../metrics/metrics-server.js';
import { DEFAULT_HTTP_SOURCE_OPTIONS, type HttpSourceOptions } from '../sources/http-source.js';
import type { NatsJetStreamSourceOptions } from '../sources/nats-jetstream-source.js';
import type { NdjsonSourceOptions } from '../sources/ndjson-source.js';
import type { RedisStreamsSourceOptions } from '../sources/redis-streams-source.js';
import { requireHoldingQueue, type SourceTarget } from '../sources/source.js';
import type { SyntheticSourceOptions } from '../sources/synthetic-source.js';
import { logOptionsSchema } from './log-options.js';
import { pipelineMetricsOptionsSchema } from './metrics-options.js';
import { problemsOf } from './option-problems.js';
import {
  boolean,
  isObject,
  must,
  nonEmptyString,
  orList,
  port,
  positiveInteger,
  strictObject,
} from './option-schema.js';
import { pipelineOptionFields, pipelineOptionsOf, type ResolvedPipelineOptions } from './pipeline-options.js';
import { sinkSpecSchema } from './sink-spec-schema.js';

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
  /**
   * Everything the pipeline takes (sink, deadLetter, transform, queue, workers, batch, retry,
   * ordering, log, metrics.defaultMetrics), resolved: createPipeline takes it as it is.
   */
  pipeline: ResolvedPipelineOptions;
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

const METRICS = strictObject(
  {
    host: nonEmptyString('a host name or address').optional(),
    port: port().optional(),
    defaultMetrics: boolean().optional(),
  },
  'an object { host?, port?, defaultMetrics? }',
);

/**
 * Broker sources acknowledge after the sink: the source's own rule on the queue policy, as a
 * problem. Checked with the rest, on the policy as given (the rule reads nothing else).
 */
function holdingQueueProblem(config: Record<string, unknown>): string | undefined {
  const source = isObject(config.source) ? config.source.type : undefined;
  if (source !== 'nats-jetstream' && source !== 'redis-streams') return undefined;
  const policy = isObject(config.queue) ? config.queue.policy : undefined;
  try {
    requireHoldingQueue(
      { options: { queue: { policy } } } as unknown as Pick<SourceTarget, 'options'>,
      source,
    );
  } catch (error) {
    if (error instanceof InvalidOptionError) return error.message;
    throw error;
  }
  return undefined;
}

const f = pipelineOptionFields;

/**
 * The pipeline keys are the library's own schemas (pipelineOptionFields), so a config is checked
 * exactly as createPipeline checks its options. Keys are in the order problems are listed: what
 * flows (source to dead letters), how it is watched and stopped, then how it is tuned.
 */
const runConfigSchema = strictObject({
  source: sourceSchema,
  transform: f.transform,
  // Required here: a config names where its events go.
  sink: sinkSpecSchema,
  deadLetter: f.deadLetter,
  log: logOptionsSchema('info').prefault({}),
  metrics: METRICS.optional(),
  shutdownTimeoutMs: positiveInteger('a positive integer of milliseconds').default(
    DEFAULT_SHUTDOWN_TIMEOUT_MS,
  ),
  queue: f.queue,
  workers: f.workers,
  batch: f.batch,
  retry: f.retry,
  ordering: f.ordering,
  maxNestingDepth: f.maxNestingDepth,
})
  .superRefine(
    (config, ctx) => {
      const problem = holdingQueueProblem(config);
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['queue', 'policy'], message: problem, params: { problem } });
      }
    },
    { when: (payload) => isObject(payload.value) },
  )
  .transform(({ source, metrics, shutdownTimeoutMs, ...groups }) => {
    // Served, the metrics include Node's process metrics unless turned off; no server, no readers.
    const { defaultMetrics = metrics !== undefined, ...server } = metrics ?? {};
    return {
      source,
      pipeline: pipelineOptionsOf({
        ...groups,
        transform: groups.transform,
        metrics: pipelineMetricsOptionsSchema.parse({ defaultMetrics }),
      }),
      metrics: metrics === undefined ? undefined : (server satisfies MetricsServerOptions),
      shutdownTimeoutMs,
    };
  });

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
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

/** The pipeline's paths, resolved before validation: they cross to worker threads resolved. */
function resolvePipelinePaths(config: Record<string, unknown>, baseDir: string): Record<string, unknown> {
  const out = { ...config };
  if (typeof out.transform === 'string' && out.transform !== '')
    out.transform = fromConfig(baseDir, out.transform);
  if (out.sink !== undefined) out.sink = resolveSinkPaths(out.sink, baseDir);
  if (out.deadLetter !== undefined) out.deadLetter = resolveSinkPaths(out.deadLetter, baseDir);
  return out;
}

/**
 * Validates a parsed config (every problem collected, not just the first: the source's, the
 * pipeline's and the rest), interpolates `${ENV}` and resolves relative paths against `baseDir`.
 */
export function resolveRunConfig(
  parsed: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
  file = 'config',
): RunConfig {
  const errors: string[] = [];
  const interpolated = interpolate(parsed as Json, [], env, errors);
  const input = isObject(interpolated) ? resolvePipelinePaths(interpolated, baseDir) : interpolated;
  const result = runConfigSchema.safeParse(input);
  if (!result.success) errors.push(...problemsOf(result.error.issues, input, '', 'config'));
  if (errors.length > 0 || !result.success) throw new RunConfigError(file, errors);
  return { ...result.data, source: resolveSourcePaths(result.data.source, baseDir) };
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
  // Loaded for a YAML file only: JSON configs do not pay for the parser.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
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
