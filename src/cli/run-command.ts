import { loadRunConfig, type RunConfig, RunConfigError } from '../config/run-config.js';
import { createPipeline, type Pipeline, ShutdownTimeoutError } from '../engine/pipeline.js';
import { InvalidOptionError } from '../errors.js';
import { createMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { HttpSource } from '../sources/http-source.js';
import { NatsJetStreamSource } from '../sources/nats-jetstream-source.js';
import { NdjsonSource } from '../sources/ndjson-source.js';
import { RedisStreamsSource } from '../sources/redis-streams-source.js';
import type { Source } from '../sources/source.js';
import { SyntheticSource } from '../sources/synthetic-source.js';
import { parseFlags } from './parse-flags.js';

export const RUN_HELP = `Usage: sluice run --config FILE
       sluice validate --config FILE

run reads events from a source into the pipeline until the source ends (an ndjson file at EOF,
a synthetic source after its events) or SIGINT/SIGTERM; then it drains and prints a one-line
summary. A second signal exits at once with code 130 (unacknowledged events stay unacknowledged).
validate checks the config the same way, prints "config OK" (exit 0) or every problem (exit 64):
every option of the source, the sinks and the pipeline is checked, and an unknown key is a problem.

The config is JSON, or YAML for a .yaml/.yml file. "\${NAME}" in any string is replaced by the
environment variable NAME (unset: an error). Relative paths are relative to the config file.
  {
    "source": { "type": "synthetic", "rate": 1000 | "max", "events": 5000, "keys": 16 }
            | { "type": "ndjson", "path": "events.ndjson" | "-", "maxLineBytes": 1048576 }
            | { "type": "http", "host": "127.0.0.1", "port": 8080, "path": "/ingest", "token": "\${INGEST_TOKEN}",
                "maxBodyBytes": 10485760, "fullWaitMs": 0 }   (POST NDJSON or a JSON array; 429 when full)
            | { "type": "nats-jetstream", "servers": "nats://127.0.0.1:4222", "stream": "EVENTS",
                "subjects": ["events.>"], "durable": "sluice", "batch": 256, "ackWaitMs": 30000,
                "maxAckPending": 65536 }
            | { "type": "redis-streams", "url": "redis://127.0.0.1:6379", "stream": "events",
                "group": "sluice", "consumer": "host-1", "batch": 256, "blockMs": 1000,
                "claimIdleMs": 30000, "field": "data", "maxPending": 65536 }
              (broker messages are acknowledged only once their events are written or
               dead-lettered; processes with the same durable/group share the work),
    "transform": "./transform.js",
    "sink": { "type": "sqlite", "path": "out.db" } | { "type": "postgres", "connectionString": "\${DATABASE_URL}" }
          | { "type": "nats-jetstream", "subject": "out.events" } | { "type": "redis-streams", "stream": "out" }
          | { "type": "ndjson", "path": "out.ndjson" } | { "type": "null" } | { "module": "./sink.js" },
    "deadLetter": { ... as sink },  "queue": { ... },  "workers": { ... },  "batch": { ... },
    "retry": { ... },  "ordering": "none" | "key",  "log": { "level": "info" },
    "metrics": { "host": "127.0.0.1", "port": 9464, "defaultMetrics": true },
               (serves /metrics, /healthz, /readyz, /; defaultMetrics adds process_* and nodejs_*)
    "shutdownTimeoutMs": 30000
  }

Options:
  --config FILE       the JSON or YAML config (required)
  -h, --help          show this help
`;

/** Exit code of a run interrupted by a second signal (128 + SIGINT, as shells report it). */
const EXIT_INTERRUPTED = 130;
const EXIT_USAGE = 64;

function configFlag(argv: string[]): string | 'help' {
  const values = parseFlags(
    argv,
    { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    'sluice run --help',
  );
  if (values.help) return 'help';
  if (typeof values.config !== 'string' || values.config === '')
    throw new InvalidOptionError('--config', 'a JSON or YAML config file', values.config);
  return values.config;
}

/** Loads the config, or prints every problem and returns undefined. */
function load(file: string, env: NodeJS.ProcessEnv): RunConfig | undefined {
  try {
    return loadRunConfig(file, env);
  } catch (error) {
    if (!(error instanceof RunConfigError)) throw error;
    console.error(`sluice: ${file} is not a valid config:`);
    for (const problem of error.errors) console.error(`  ${problem}`);
    return undefined;
  }
}

/** `sluice validate --config FILE`: 0 and "config OK", or 64 and every problem. */
export function validateCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const file = configFlag(argv);
  if (file === 'help') {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (load(file, env) === undefined) return EXIT_USAGE;
  process.stdout.write('config OK\n');
  return 0;
}

function createSource(config: RunConfig): Source {
  const source = config.source;
  if (source.type === 'synthetic') return new SyntheticSource(source);
  if (source.type === 'http') return new HttpSource(source);
  if (source.type === 'nats-jetstream') return new NatsJetStreamSource(source);
  if (source.type === 'redis-streams') return new RedisStreamsSource(source);
  return new NdjsonSource(source);
}

/** `sluice run --config FILE`: runs until the source ends or a signal, drains, prints a summary. */
export async function runCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const file = configFlag(argv);
  if (file === 'help') {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const config = load(file, env);
  if (config === undefined) return EXIT_USAGE;

  const stopping = new AbortController();
  let pipeline: Pipeline | undefined;
  let signals = 0;
  // Installed before the pipeline starts, so a signal during start-up is a clean stop, not a kill.
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      pipeline?.logger.warn({ signal }, 'second signal, exiting without draining');
      process.exit(EXIT_INTERRUPTED);
    }
    pipeline?.logger.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    stopping.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let server: MetricsServer | undefined;
  try {
    pipeline = await createPipeline(config.pipeline);
    const logger = pipeline.logger;
    const source = createSource(config);
    if (config.metrics) {
      server = await createMetricsServer(pipeline, config.metrics);
      logger.info({ url: server.url }, 'metrics server listening');
    }
    let failure: unknown;
    try {
      const running = source.start(pipeline, stopping.signal);
      if (source instanceof HttpSource)
        logger.info({ url: await source.listening() }, 'http source listening');
      logger.info({ source: config.source.type }, 'source started');
      await running;
    } catch (error) {
      failure = error;
      logger.error({ err: error }, 'source failed');
    }
    await source.stop();
    try {
      // The close drains the ring; each event settled makes its source message due for an ack,
      // which finish() sends before the source disconnects.
      const summary = await pipeline
        .close({ timeoutMs: config.shutdownTimeoutMs })
        .finally(() =>
          source.finish?.().catch((error: unknown) => logger.warn({ err: error }, 'source finish failed')),
        );
      const skipped =
        source instanceof NdjsonSource && source.tooLong > 0
          ? `, ${source.tooLong} lines over maxLineBytes not pushed`
          : '';
      process.stdout.write(
        `sluice run: ${summary.written} written, ${summary.deadLettered} dead-lettered${skipped}, ` +
          `${summary.uptimeSeconds.toFixed(2)} s\n`,
      );
    } catch (error) {
      if (!(error instanceof ShutdownTimeoutError)) throw error;
      console.error(`sluice: ${error.message}; they stay unacknowledged`);
      return 1;
    }
    if (failure !== undefined) {
      console.error(`sluice: source failed: ${(failure as Error).message ?? String(failure)}`);
      return 1;
    }
    return 0;
  } finally {
    await server?.close();
    await pipeline?.close().catch(() => undefined);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
