import { readFileSync } from 'node:fs';
import { loadRunConfig, type RunConfig } from '../config/run-config.js';
import { openPipeline, type Pipeline, type PipelineSummary } from '../engine/pipeline.js';
import type { PrestartedPool } from '../engine/worker-pool.js';
import { InvalidOptionError, RunConfigError, ShutdownTimeoutError, sluiceCodeOf } from '../errors.js';
import { longTimeout } from '../long-timeout.js';
import type { MetricsServer } from '../metrics/metrics-server.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { messageOf } from '../sinks/sink-support.js';
import type { HttpSource } from '../sources/http-source.js';
import type { NdjsonSource } from '../sources/ndjson-source.js';
import type { Source } from '../sources/source.js';
import { takeHeldSignals } from './early-signals.js';
import {
  EXIT_FAILURE,
  EXIT_INTERRUPTED,
  EXIT_NO_INPUT,
  EXIT_OK,
  EXIT_SHUTDOWN_DEADLINE,
  EXIT_UNAVAILABLE,
  EXIT_USAGE,
  exitCodeFor,
} from './exit-codes.js';
import { parseFlags, runFlagOptions } from './parse-flags.js';
import { type ProfileFlags, runProfiled, summarizeProfiles } from './run-profile.js';

/**
 * How long past shutdownTimeoutMs a shutdown may take, ms: the close's own grace for the sinks
 * (SINK_CLOSE_GRACE_MS), ending the threads, the source's acknowledgements and the metrics server.
 */
export const SHUTDOWN_GRACE_MS = 2000;

export const RUN_HELP = `Usage: sluice run --config FILE
       sluice validate --config FILE [--connect]

run reads events from a source into the pipeline until the source ends (an ndjson file at EOF,
a synthetic source after its events) or SIGINT/SIGTERM; then it stops the source, drains and prints
a one-line summary. The whole shutdown (source stopped, ring drained, sinks and metrics server
closed) ends within shutdownTimeoutMs plus ${SHUTDOWN_GRACE_MS / 1000} s of grace, whatever the source or sink: if accepted
events are still unwritten at the deadline, run says how many and exits 75 (a broker source leaves
their messages unacknowledged, to be delivered again; other sources keep no copy). A second signal
exits at once with code 130 (unacknowledged events stay unacknowledged).
validate checks the config the same way, prints "config OK" (exit 0) or every problem (exit 64):
every option of the source, the sinks and the pipeline is checked, and an unknown key is a problem.
With --connect, validate then opens and closes the sink and the dead-letter sink as a run would
(creating what they create: the envelope table, an ndjson file), so a server that cannot be
reached or a table, column or unique index that is missing is reported (exit 69) before a run.

The config is JSON, or YAML for a .yaml/.yml file. "\${NAME}" in any string is replaced by the
environment variable NAME (unset: an error). Relative paths are relative to the config file.
  {
    "source": { "type": "synthetic", "rate": 1000 | "max", "events": 5000, "keys": 16 }
            | { "type": "ndjson", "path": "events.ndjson" | "-", "maxLineBytes": 1048576 }
            | { "type": "http", "host": "127.0.0.1", "port": 8080, "path": "/ingest", "token": "\${INGEST_TOKEN}",
                "maxBodyBytes": 10485760, "maxInFlightBytes": 41943040, "fullWaitMs": 250,
                "bodyIdleMs": 10000 }
              (POST NDJSON or a JSON array, gzip/deflate/br bodies decoded; 429 when full;
               408 to a body that sends nothing for bodyIdleMs)
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
             sqlite and postgres into your own table: "table": "orders",
             "columns": { "order_id": "id", "amount": "payload.amount", "created_at": "ts" },
             "onConflict": { "target": ["order_id"], "action": "nothing" | "update" }
    "routes": { "orders": { "sink": { ... }, "deadLetter": { ... }, "retry": { ... },
                            "when": { "path": "payload.type", "equals": "order" | "in": [...] | "matches": "^o" } },
                "archive": { "sink": { "type": "ndjson", "path": "all.ndjson" } } },
             (beside or instead of sink, which is then the route "default"; the transform picks
              routes with "route": "orders" | ["orders", "archive"] on its output)
    "defaultRoute": "archive",
    "deadLetter": { ... as sink },  "workers": { ... },  "batch": { ... },
    "queue": { "capacityBytes": 16777216, "durability": "memory" | "disk", "path": "./sluice-queue",
               "fsync": "group" | "interval" | "never", "maxDiskBytes": 1073741824 },
               (disk: an accepted event survives a crash; a run on the same path replays it;
                the backlog beyond the ring waits on disk, up to maxDiskBytes)
    "retry": { ... },  "ordering": "none" | "key",  "log": { "level": "info" },
    "metrics": { "host": "127.0.0.1", "port": 9464, "defaultMetrics": true, "sinkDownAfterMs": 10000 },
               (serves /metrics, /healthz, /readyz, /; defaultMetrics adds process_* and nodejs_*)
    "shutdownTimeoutMs": 30000
  }

Options:
  --config FILE       the JSON or YAML config (required)
  --profile DIR       run: write V8 CPU profiles of the main thread and every worker thread into DIR
                      (main.cpuprofile, worker-N.cpuprofile), written as the run ends
  --profile-seconds S run --profile: stop the run after S seconds, as SIGTERM does
  --connect           validate only: also open and close every sink and dead-letter sink
  -h, --help          show this help

Exit codes (an error is one line, "sluice: <what is wrong>"; only a bug prints a stack):
  0    the source ended or was stopped, and every accepted event was written or dead-lettered
  1    the source failed while running (what it had pushed is drained first), or another error
  64   bad flags, or the config is not valid (every problem is listed)
  66   the config file cannot be read
  69   a sink, the source or the transform could not be opened, reached or loaded, or the workers
       did not start within workers.startupTimeoutMs (validate --connect: a sink did not open)
  70   an internal error, printed with its stack: a bug
  75   the shutdown deadline passed with accepted events neither written nor dead-lettered
  130  a second signal ended the run without draining
`;

interface RunFlags {
  config: string;
  connect: boolean;
  profile: ProfileFlags | undefined;
}

function runFlags(argv: string[], command: 'run' | 'validate'): RunFlags | 'help' {
  const values = parseFlags(argv, runFlagOptions(command), 'sluice run --help');
  if (values.help) return 'help';
  if (typeof values.config !== 'string' || values.config === '')
    throw new InvalidOptionError('--config', 'a JSON or YAML config file', values.config);
  let profile: ProfileFlags | undefined;
  const seconds = values['profile-seconds'];
  if (values.profile !== undefined) {
    if (typeof values.profile !== 'string' || values.profile === '')
      throw new InvalidOptionError('--profile', 'a directory', values.profile);
    const n = seconds === undefined ? undefined : Number(seconds);
    if (n !== undefined && (!Number.isFinite(n) || n <= 0))
      throw new InvalidOptionError('--profile-seconds', 'a positive number of seconds', seconds);
    profile = { dir: values.profile, seconds: n };
  } else if (seconds !== undefined)
    throw new InvalidOptionError('--profile-seconds', 'used with --profile DIR', seconds);
  return { config: values.config, connect: values.connect === true, profile };
}

/** Loads the config, or prints what is wrong with it and returns the exit code (`run`, `validate`, `bench --config`). */
export function loadConfigOrExit(file: string, env: NodeJS.ProcessEnv = process.env): RunConfig | number {
  // Read here, once — a pipe (`--config /dev/stdin`) gives its content to one read only — so that
  // a missing or unreadable file is said to be that, not an invalid config.
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as Error).message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '');
    console.error(`sluice: cannot read ${file}: ${reason}`);
    return EXIT_NO_INPUT;
  }
  try {
    return loadRunConfig(file, env, text);
  } catch (error) {
    if (!(error instanceof RunConfigError)) throw error;
    console.error(`sluice: ${file} is not a valid config:`);
    for (const problem of error.errors) console.error(`  ${problem}`);
    return EXIT_USAGE;
  }
}

/**
 * `sluice validate --config FILE [--connect]`: 0 and "config OK", or 64 and every problem; with
 * --connect, then 69 and what failed if the sink or the dead-letter sink does not open.
 */
export async function validateCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const flags = runFlags(argv, 'validate');
  if (flags === 'help') {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const config = loadConfigOrExit(flags.config, env);
  if (typeof config === 'number') return config;
  if (!flags.connect) {
    process.stdout.write('config OK\n');
    return 0;
  }
  const { routes, deadLetter, ordering, workers } = config.pipeline;
  const failures: string[] = [];
  const routed = Object.keys(routes).length > 1;
  const toOpen: [string, 'sink' | 'deadLetter', ResolvedSinkSpec][] = [];
  for (const [name, route] of Object.entries(routes)) {
    toOpen.push([routed ? `routes.${name}.sink` : 'sink', 'sink', route.sink]);
    if (route.deadLetter) toOpen.push([`routes.${name}.deadLetter`, 'deadLetter', route.deadLetter]);
  }
  toOpen.push(['deadLetter', 'deadLetter', deadLetter]);
  for (const [field, role, spec] of toOpen) {
    const problem = await openAndClose(spec, role, ordering, workers.startupTimeoutMs);
    if (problem !== undefined) failures.push(`${field} (${sinkName(spec)}) cannot be opened: ${problem}`);
  }
  for (const failure of failures) console.error(`sluice: ${failure}`);
  if (failures.length > 0) return EXIT_UNAVAILABLE;
  process.stdout.write(
    routed ? `config OK; ${toOpen.length} sinks opened\n` : 'config OK; sink and deadLetter opened\n',
  );
  return 0;
}

const sinkName = (spec: ResolvedSinkSpec) => ('module' in spec ? spec.module : spec.type);

/**
 * Builds and opens a sink on this thread, as a worker would, then closes it; what went wrong, or
 * undefined. An open that has not ended after `timeoutMs` (the workers' own start-up bound) fails.
 */
async function openAndClose(
  spec: ResolvedSinkSpec,
  role: 'sink' | 'deadLetter',
  ordering: 'none' | 'key',
  timeoutMs: number,
): Promise<string | undefined> {
  const { createSink } = await import('../sinks/create-sink.js');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`did not open within workers.startupTimeoutMs (${timeoutMs} ms)`),
      timeoutMs,
    );
  });
  const attempt = (async () => {
    const sink = await createSink(spec, { threadId: 0, role, ordering });
    try {
      await sink.open();
    } catch (error) {
      // What a failed open left behind is released; the open's own error is the one to report.
      await sink.close().catch(() => undefined);
      throw error;
    }
    await sink.close();
    return undefined;
  })().catch((error: unknown) => messageOf(error).replace(/\s*\n\s*/g, ' '));
  try {
    return await Promise.race([attempt, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The configured source; only its own module is loaded (the workers start up meanwhile). */
async function createSource(config: RunConfig): Promise<Source> {
  const source = config.source;
  if (source.type === 'synthetic')
    return new (await import('../sources/synthetic-source.js')).SyntheticSource(source);
  if (source.type === 'http') return new (await import('../sources/http-source.js')).HttpSource(source);
  if (source.type === 'nats-jetstream') {
    return new (await import('../sources/nats-jetstream-source.js')).NatsJetStreamSource(source);
  }
  if (source.type === 'redis-streams') {
    return new (await import('../sources/redis-streams-source.js')).RedisStreamsSource(source);
  }
  return new (await import('../sources/ndjson-source.js')).NdjsonSource(source);
}

/** Resolves once `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Waits for the pipeline's start: true once it started, false when a stop was asked for and its
 * deadline (`stopBy()`, performance.now()) came first; rejects as the start does. A sink whose open
 * hangs — a server that accepts connections and never answers — would otherwise hold a stopped run
 * for its connect timeout, or workers.startupTimeoutMs, whatever shutdownTimeoutMs says.
 */
async function startedUnlessStopped(
  started: Promise<void>,
  stop: AbortSignal,
  stopBy: () => number | undefined,
): Promise<boolean> {
  let done = false;
  let cancel = () => {};
  const gaveUp = aborted(stop).then(
    () =>
      new Promise<false>((resolve) => {
        // A stop after the start settled arms nothing: a ref'd timer would hold the process.
        if (done) return;
        cancel = longTimeout(() => resolve(false), (stopBy() ?? performance.now()) - performance.now());
      }),
  );
  try {
    return await Promise.race([started.then(() => true as const), gaveUp]);
  } finally {
    done = true;
    cancel();
  }
}

/**
 * Whether `work` settled before `performance.now()` reached `at`. The timer is ref'd: were the
 * work all that was left, the process would otherwise exit at once, with no word of the shutdown.
 */
async function settledBy(work: Promise<unknown>, at: number): Promise<boolean> {
  let cancel = () => {};
  const late = new Promise<false>((resolve) => {
    cancel = longTimeout(() => resolve(false), at - performance.now());
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    cancel();
  }
}

/** What became of a shutdown. */
interface Ending {
  /** The close's summary; undefined when it timed out or had not ended by the hard deadline. */
  summary: PipelineSummary | undefined;
  /** Accepted events neither written nor dead-lettered, when the deadline passed with some left. */
  notWritten: number | undefined;
  /** Something (the source's stop or finish, the metrics server's close) was given up on. */
  abandoned: string[];
  /** performance.now() by which the process must have exited: the deadline plus the grace. */
  exitBy: number;
}

/**
 * Stops the source, drains and closes the pipeline, lets the source acknowledge, closes the
 * metrics server — all within `shutdownTimeoutMs` of the start, plus SHUTDOWN_GRACE_MS for what
 * must happen after the deadline (sinks closed, threads ended, the rest given up on).
 *
 * The source is stopped first, so that no new push starts, and is waited for only until the
 * deadline: a push waiting for room in a full ring ends only when the ring closes, so behind a
 * stalled sink only the close can end the stop (the push is then refused with SLUICE_CLOSED, and
 * what it carried was never accepted).
 */
async function shutDown(
  pipeline: Pipeline,
  source: Source,
  server: MetricsServer | undefined,
  timeoutMs: number,
): Promise<Ending> {
  const logger = pipeline.logger;
  const deadline = performance.now() + timeoutMs;
  const hardDeadline = deadline + SHUTDOWN_GRACE_MS;
  const abandoned: string[] = [];
  const stopped = source.stop();
  if (!(await settledBy(stopped, deadline))) {
    logger.warn({ timeoutMs }, 'source still pushing at the shutdown deadline; the close ends its pushes');
  }
  // The close drains the ring; each event settled makes its source message due for an ack,
  // which finish() sends before the source disconnects.
  const closing = pipeline.close({ timeoutMs: Math.max(0, deadline - performance.now()) });
  let summary: PipelineSummary | undefined;
  let notWritten: number | undefined;
  const closed = closing.then(
    (s) => {
      summary = s;
    },
    (error: unknown) => {
      if (!(error instanceof ShutdownTimeoutError)) throw error;
      notWritten = error.pendingEvents;
    },
  );
  if (await settledBy(closed, hardDeadline)) {
    // Settled: this only rethrows a failure that is not the deadline's.
    await closed;
  } else {
    abandoned.push('pipeline close');
    // The close counts what is left once its drain gives up; it has not said yet, so count here.
    notWritten = pipeline.stats().queue.depthRecords;
  }
  if (!(await settledBy(stopped, hardDeadline))) abandoned.push('source stop');
  const finishing = (source.finish?.() ?? Promise.resolve()).catch((error: unknown) =>
    logger.warn({ err: error }, 'source finish failed'),
  );
  if (!(await settledBy(finishing, hardDeadline))) abandoned.push('source finish');
  if (server && !(await settledBy(server.close(), hardDeadline))) abandoned.push('metrics server close');
  if (abandoned.length > 0) {
    logger.warn({ abandoned, graceMs: SHUTDOWN_GRACE_MS }, 'shutdown gave up on what did not end in time');
  }
  return { summary, notWritten, abandoned, exitBy: hardDeadline };
}

/** `sluice run --config FILE`: runs until the source ends or a signal, drains, prints a summary. */
export async function runCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  /** Started before this module loaded (src/cli/main.ts): the pipeline takes it if its workers fit. */
  prestarted?: PrestartedPool,
): Promise<number> {
  const flags = runFlags(argv, 'run');
  if (flags === 'help') {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const config = loadConfigOrExit(flags.config, env);
  if (typeof config === 'number') return config;
  if (flags.profile) {
    // Stopped while it loaded: nothing has run to profile. Later signals go to the child.
    if (takeHeldSignals().length > 0) return EXIT_INTERRUPTED;
    const { code, profiles } = await runProfiled(['--config', flags.config], flags.profile);
    if (profiles.length === 0) {
      process.stderr.write(
        `sluice run: no CPU profile was written to ${flags.profile.dir} (the run must end by itself or by SIGINT/SIGTERM)\n`,
      );
      return code;
    }
    // A user's sink module, if a route has one, is told apart from Sluice's code in the summary.
    const sinkModule = Object.values(config.pipeline.routes)
      .map((route) => route.sink)
      .find((sink) => 'module' in sink);
    const summary = summarizeProfiles(flags.profile.dir, profiles, {
      sluiceRoot: new URL('../../', import.meta.url).href,
      ...(config.pipeline.transform ? { transform: config.pipeline.transform } : {}),
      ...(sinkModule && 'module' in sinkModule ? { sinkModule: sinkModule.module } : {}),
    });
    process.stderr.write(
      `\nWhere each thread spent its time (self time):\n${summary}\n` +
        `sluice run: CPU profiles of ${profiles.map((p) => p.thread).join(', ')} in ${flags.profile.dir}, each with a ` +
        'flame graph (.flame.svg, opens offline in a browser); open a profile in Chrome DevTools or speedscope\n',
    );
    return code;
  }

  const stopping = new AbortController();
  let pipeline: Pipeline | undefined;
  let signals = 0;
  /** performance.now() by which the shutdown must be done, once a signal asked for one. */
  let stopBy: number | undefined;
  // Installed before the pipeline starts, so a signal during start-up is a clean stop, not a kill.
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      pipeline?.logger.warn({ signal }, 'second signal, exiting without draining');
      process.exit(EXIT_INTERRUPTED);
    }
    pipeline?.logger.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    stopBy = performance.now() + config.shutdownTimeoutMs;
    stopping.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  for (const signal of takeHeldSignals()) onSignal(signal);
  let server: MetricsServer | undefined;
  let shutDownStarted = false;
  const created = performance.now();
  try {
    const opened = await openPipeline(config.pipeline, prestarted);
    const source = await createSource(config);
    // A file or a generator can be read again: it starts while the workers start up, its events
    // waiting in the ring. A source that answers or acknowledges anyone waits until the sinks
    // are known to open.
    const early =
      config.source.type === 'synthetic' || (config.source.type === 'ndjson' && config.source.path !== '-');
    let running: Promise<void> | undefined;
    let failure: unknown;
    const startSource = (target: Pipeline) =>
      source.start(target, stopping.signal).catch((error: unknown) => {
        // Once the shutdown closed the ring, a push the source still had waiting is refused: the
        // stop, not a failure.
        if (shutDownStarted && sluiceCodeOf(error) === 'SLUICE_CLOSED') return;
        failure = error;
        target.logger.error({ err: error }, 'source failed');
      });
    if (early) running = startSource(opened.pipeline);
    let startedInTime: boolean;
    try {
      startedInTime = await startedUnlessStopped(opened.started, stopping.signal, () => stopBy);
    } catch (error) {
      // The source may be waiting for room in a ring it filled while the workers started: only
      // closing the pipeline ends that push (refused as closed, which is the stop), so both go
      // together rather than the stop first.
      shutDownStarted = true;
      stopping.abort();
      const stopped = source.stop();
      await opened.pipeline.close({ timeoutMs: 0 }).catch(() => undefined);
      // The start's failure is the one to report, whatever the stop met.
      await stopped.catch(() => undefined);
      throw error;
    }
    pipeline = opened.pipeline;
    const logger = pipeline.logger;
    // A broker source's lag and unacknowledged messages, in the metrics, the dashboard and top.
    pipeline.watchSource(source);
    if (startedInTime) {
      if (config.metrics) {
        const metrics = config.metrics;
        const { createMetricsServer } = await import('../metrics/metrics-server.js');
        server = await createMetricsServer(pipeline, metrics).catch((error: unknown) => {
          // A port in use or an address not on this machine: the config's to fix, not a bug.
          if (sluiceCodeOf(error) !== undefined) throw error;
          const at = `${metrics.host ?? '127.0.0.1'}:${metrics.port ?? 9464}`;
          throw new InvalidOptionError(
            'metrics',
            'an address this process can listen on',
            `${at} (${(error as Error).message})`,
          );
        });
        logger.info({ url: server.url }, 'metrics server listening');
      }
      running ??= startSource(pipeline);
      if (config.source.type === 'http') {
        // A failed bind is reported through `running`.
        const url = await (source as HttpSource).listening().catch(() => undefined);
        if (url !== undefined) logger.info({ url }, 'http source listening');
      }
      logger.info({ source: config.source.type }, 'source started');
      await Promise.race([running, aborted(stopping.signal)]);
    } else {
      logger.warn(
        { shutdownTimeoutMs: config.shutdownTimeoutMs },
        'stopped while the sinks were still opening; giving up on them at the shutdown deadline',
      );
    }
    shutDownStarted = true;
    stopping.abort();
    // A stop asked for during start-up has had part of its time already.
    const timeLeft =
      stopBy === undefined ? config.shutdownTimeoutMs : Math.max(0, stopBy - performance.now());
    const ending = await shutDown(pipeline, source, server, timeLeft);
    // What may still hold the event loop once the shutdown returned — a stop or finish given up
    // on, a client library tearing its socket down (ioredis waits up to 2 s) — must not keep the
    // process past the grace. Unref'd, this fires only if something does; process.exit() exits
    // with the code this command returns, set by then.
    setTimeout(() => process.exit(), Math.max(0, ending.exitBy - performance.now())).unref();
    const failed = () => {
      if (failure !== undefined)
        console.error(`sluice: source failed: ${(failure as Error).message ?? String(failure)}`);
    };
    if (ending.notWritten !== undefined && ending.notWritten > 0) {
      failed();
      const broker = config.source.type === 'nats-jetstream' || config.source.type === 'redis-streams';
      console.error(
        `sluice: shutdown deadline passed (shutdownTimeoutMs ${config.shutdownTimeoutMs}): ` +
          `${ending.notWritten} accepted events were not written or dead-lettered; ` +
          (config.pipeline.queue.durability === 'disk'
            ? 'they stay in the disk queue, which replays them at the next start'
            : broker
              ? 'they stay unacknowledged with the broker, which will deliver them again'
              : 'this source keeps no copy of them'),
      );
      return EXIT_SHUTDOWN_DEADLINE;
    }
    // A close that timed out with nothing left (a reservation never published) wrote everything.
    const summary = ending.summary ?? {
      ...pipeline.stats(),
      uptimeSeconds: (performance.now() - created) / 1000,
    };
    const skipped =
      config.source.type === 'ndjson' && (source as NdjsonSource).tooLong > 0
        ? ` (${(source as NdjsonSource).tooLong} of them lines over maxLineBytes)`
        : '';
    const routes = Object.entries(summary.writtenByRoute);
    const byRoute = routes.length > 1 ? ` (${routes.map(([name, n]) => `${name} ${n}`).join(', ')})` : '';
    process.stdout.write(
      `sluice run: ${summary.written} written${byRoute}, ${summary.deadLettered} dead-lettered${skipped}, ` +
        `${summary.uptimeSeconds.toFixed(2)} s\n`,
    );
    if (failure !== undefined) {
      failed();
      const code = sluiceCodeOf(failure);
      return code === undefined ? EXIT_FAILURE : exitCodeFor(code);
    }
    return EXIT_OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Only when the run failed before its shutdown: the shutdown closes both itself, in time.
    if (!shutDownStarted) {
      await server?.close();
      await pipeline?.close().catch(() => undefined);
    }
  }
}
