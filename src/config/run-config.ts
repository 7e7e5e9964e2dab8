import { dirname, resolve } from 'node:path';
import { InvalidOptionError, RunConfigError } from '../errors.js';
import type { MetricsServerOptions } from '../metrics/metrics-server.js';
import { refuseDroppingQueue, type SourceTarget } from '../sources/source.js';
import { parseConfigText, readConfigFile } from './config-file.js';
import { interpolate, type Json, resolvePipelinePaths, resolveSourcePaths } from './config-values.js';
import { logOptionsSchema } from './log-options.js';
import { pipelineMetricsOptionsSchema } from './metrics-options.js';
import { problemsOf } from './option-problems.js';
import {
  boolean,
  integer,
  isObject,
  MAX_TIMER_MS,
  nonEmptyString,
  port,
  strictObject,
} from './option-schema.js';
import { pipelineOptionFields, pipelineOptionsOf, type ResolvedPipelineOptions } from './pipeline-options.js';
import { routeFieldProblems } from './route-options.js';
import { sinkSpecSchema } from './sink-spec-schema.js';
import { type SourceConfig, sourceSchema } from './source-config.js';

export type { NatsJetStreamSourceConfig, RedisStreamsSourceConfig, SourceConfig } from './source-config.js';

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

const METRICS = strictObject(
  {
    host: nonEmptyString('a host name or address').optional(),
    port: port().optional(),
    defaultMetrics: boolean().optional(),
    sinkDownAfterMs: integer(0, MAX_TIMER_MS, 'an integer of milliseconds ≥ 0').optional(),
  },
  'an object { host?, port?, defaultMetrics?, sinkDownAfterMs? }',
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
    refuseDroppingQueue(
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
  // A config names where its events go: sink, routes or both (checked below).
  sink: sinkSpecSchema.optional(),
  routes: f.routes,
  defaultRoute: f.defaultRoute,
  deadLetter: f.deadLetter,
  log: logOptionsSchema('info').prefault({}),
  metrics: METRICS.optional(),
  // A timer waits this long, and a Node timer waits at most MAX_TIMER_MS.
  shutdownTimeoutMs: integer(1, MAX_TIMER_MS, `an integer of milliseconds from 1 to ${MAX_TIMER_MS}`).default(
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
      if (config.sink === undefined && config.routes === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['sink'],
          message: 'must be given (or routes)',
          input: undefined,
        });
      routeFieldProblems(config as Record<string, unknown>, (path, expectation, input) =>
        ctx.addIssue({ code: 'custom', path, message: `must be ${expectation}`, input }),
      );
    },
    { when: (payload) => isObject(payload.value) },
  )
  .transform(({ source, metrics, shutdownTimeoutMs, ...groups }) => {
    // Served, the metrics include Node's process metrics unless turned off; no server, no readers.
    const { defaultMetrics = metrics !== undefined, sinkDownAfterMs, ...server } = metrics ?? {};
    return {
      source,
      pipeline: pipelineOptionsOf({
        ...groups,
        transform: groups.transform,
        metrics: pipelineMetricsOptionsSchema.parse({ defaultMetrics, sinkDownAfterMs }),
      }),
      metrics: metrics === undefined ? undefined : (server satisfies MetricsServerOptions),
      shutdownTimeoutMs,
    };
  });

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

/**
 * Reads a config file, YAML if it ends in .yaml or .yml and JSON otherwise, and resolves it; see
 * resolveRunConfig. `text`: the file's content, read already (a pipe, `/dev/stdin`, can be read
 * only once).
 */
export function loadRunConfig(file: string, env: NodeJS.ProcessEnv = process.env, text?: string): RunConfig {
  const content = text === undefined ? readConfigFile(file) : parseConfigText(text, file);
  return resolveRunConfig(content, dirname(resolve(file)), env, file);
}
