/**
 * Broker → Sluice throughput beside the broker's own read + acknowledge ceiling, in one run.
 *
 * For each broker, N small JSON events (each with its own `id`) are published into a stream no
 * other run uses; then, in alternating order for several rounds, each through a fresh consumer:
 *   baseline — one thread with the same client library and batch size that reads a batch and
 *              acknowledges it (NATS: fetch + ack + a final flush; Redis: XREADGROUP + XACK), and
 *              does nothing else;
 *   Sluice   — the Sluice source (NatsJetStreamSource / RedisStreamsSource) feeding a pipeline
 *              (null sink, or PostgreSQL with --sink postgres), from its first message to the moment
 *              the source has acknowledged all N (`source.counts.acked`).
 * Medians are reported as a Markdown table. Every stream, consumer, group and table is deleted
 * afterwards, also when a measurement fails or times out.
 *
 * npm run bench:brokers -- [--events N] [--batch B] [--rounds R] [--workers W] [--brokers nats,redis]
 *                          [--sink null|postgres] [--timeout-s S] [--publish-timeout-s S] [--json FILE]
 * NATS_URL (nats://127.0.0.1:4222), REDIS_URL (redis://127.0.0.1:6379), DATABASE_URL for --sink postgres.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { type PipelineOptions, resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import type { SourceTarget } from '../../src/sources/source.js';
import { defaultMaxPending } from '../../src/sources/source.js';
import { benchEnv, flag, median } from '../lib/env.js';
import { type BrokerCase, throwIfAborted, uniqueName } from './broker-case.js';
import { NatsJetStreamCase } from './nats-jetstream-case.js';
import { RedisStreamsCase } from './redis-streams-case.js';

function positiveInt(name: string, fallback: number): number {
  const value = Number(flag(name) ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const events = positiveInt('events', 200_000);
const batch = positiveInt('batch', 256);
const rounds = positiveInt('rounds', 3);
const workers = positiveInt('workers', 2);
const timeoutMs = positiveInt('timeout-s', 120) * 1000;
const publishTimeoutMs = positiveInt('publish-timeout-s', 600) * 1000;
const sinkKind = flag('sink') ?? 'null';
if (sinkKind !== 'null' && sinkKind !== 'postgres') throw new Error('--sink must be null or postgres');
const brokerNames = (flag('brokers') ?? 'nats,redis').split(',');
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CAPACITY_BYTES = 16 * 1024 * 1024;
/** A close after the last acknowledgement has nothing left to drain; this only bounds a failure. */
const CLOSE_TIMEOUT_MS = 10_000;

function pipelineOptions(table: string | undefined): PipelineOptions {
  return {
    queue: { capacityBytes: CAPACITY_BYTES },
    workers: { min: workers, max: workers },
    sink: table ? { type: 'postgres', connectionString: databaseUrl, table } : { type: 'null' },
    deadLetter: { type: 'null' },
    log: { level: 'warn' },
  };
}

/** The sources' own default bound on unacknowledged messages for this ring, used for both systems. */
const maxPending = defaultMaxPending({ options: resolvePipelineOptions(pipelineOptions(undefined)) }, batch);

/** The pipeline as a source sees it, noting when the source pushes its first messages. */
function timedTarget(pipeline: Pipeline, onFirstPush: () => void): SourceTarget {
  return {
    push: (event) => pipeline.push(event),
    pushMany: (list) => pipeline.pushMany(list),
    pushRaw: (bytes, key) => pipeline.pushRaw(bytes, key),
    pushRawMany: (lines, key) => pipeline.pushRawMany(lines, key),
    pushRawRecords: (records) => {
      onFirstPush();
      return pipeline.pushRawRecords(records);
    },
    pushLines: (batch) => {
      onFirstPush();
      return pipeline.pushLines(batch);
    },
    get logger() {
      return pipeline.logger;
    },
    stats: () => pipeline.stats(),
    settled: () => pipeline.settled(),
    options: pipeline.options,
  };
}

async function withPostgres<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

interface SluiceRun {
  seconds: number;
  /** Messages received beyond N: redeliveries the sink absorbed (expected 0 here). */
  extraReceived: number;
}

async function sluice(broker: BrokerCase, signal: AbortSignal): Promise<SluiceRun> {
  const table = sinkKind === 'postgres' ? uniqueName('bench_brokers') : undefined;
  const pipeline = await createPipeline(pipelineOptions(table));
  const { source, dispose } = broker.source(batch);
  const stopping = new AbortController();
  let first: number | undefined;
  let failure: unknown;
  let run: SluiceRun | undefined;
  try {
    const running = source.start(
      timedTarget(pipeline, () => {
        first ??= performance.now();
      }),
      stopping.signal,
    );
    running.catch((error: unknown) => {
      failure ??= error;
    });
    while (source.counts.acked < events) {
      if (failure !== undefined) throw failure;
      throwIfAborted(signal, `${broker.name} Sluice`);
      await sleep(2);
    }
    run = { seconds: (performance.now() - first!) / 1000, extraReceived: source.counts.received - events };
  } catch (error) {
    failure ??= error;
  }

  // Clean up whatever happened above, then check what was stored.
  stopping.abort();
  await source.stop();
  const closed = await pipeline.close({ timeoutMs: CLOSE_TIMEOUT_MS }).catch((error: unknown) => {
    failure ??= error;
    return undefined;
  });
  await source.finish?.().catch((error: unknown) => console.error(`${broker.name} source finish:`, error));
  await dispose();
  let stored: number | undefined;
  if (table) {
    stored = await withPostgres(async (client) => {
      const exists = await client.query('SELECT to_regclass($1) AS t', [table]);
      if (exists.rows[0].t === null) return 0;
      const { rows } = await client.query(`SELECT count(DISTINCT id)::int AS n FROM "${table}"`);
      await client.query(`DROP TABLE "${table}"`);
      return rows[0].n as number;
    });
  }
  if (failure !== undefined || !run || !closed) throw failure;
  if (closed.written < events)
    throw new Error(`${broker.name}: the sink wrote ${closed.written} of ${events}`);
  if (stored !== undefined && stored !== events)
    throw new Error(`${broker.name}: PostgreSQL holds ${stored} distinct ids of ${events}`);
  return run;
}

/** Runs `measure` with a signal that aborts after `limitMs` or on SIGINT. */
async function bounded<T>(
  what: string,
  measure: (signal: AbortSignal) => Promise<T>,
  limitMs = timeoutMs,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(`timed out after ${limitMs / 1000} s`), limitMs);
  const onInterrupt = () => controller.abort('interrupted');
  if (interrupted.signal.aborted) onInterrupt();
  interrupted.signal.addEventListener('abort', onInterrupt, { once: true });
  try {
    return await measure(controller.signal);
  } catch (error) {
    throw new Error(`${what} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    interrupted.signal.removeEventListener('abort', onInterrupt);
  }
}

const interrupted = new AbortController();
process.once('SIGINT', () => interrupted.abort());

const available: Record<string, () => BrokerCase> = {
  nats: () => new NatsJetStreamCase(natsUrl, maxPending),
  redis: () => new RedisStreamsCase(redisUrl, maxPending),
};
for (const name of brokerNames) {
  if (!available[name]) throw new Error(`--brokers takes nats and/or redis, got ${JSON.stringify(name)}`);
}

interface Result {
  broker: string;
  baseline: number[];
  sluice: number[];
  extraReceived: number;
}

const env = benchEnv();
/** Other work on the machine skews every figure: the 1-minute load average is reported with them. */
const loadAtStart = loadavg()[0]!;
const cases = brokerNames.map((name) => available[name]!());
const results: Result[] = cases.map((c) => ({ broker: c.name, baseline: [], sluice: [], extraReceived: 0 }));
try {
  for (const c of cases) {
    const started = performance.now();
    await bounded(`${c.name} publish`, (signal) => c.setUp(events, signal), publishTimeoutMs);
    console.error(
      `${c.name}: published ${events} events in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of cases.entries()) {
      const result = results[i]!;
      const runBaseline = async () => {
        const seconds = await bounded(`${c.name} baseline`, (signal) => c.baseline(events, batch, signal));
        result.baseline.push(events / seconds);
      };
      const runSluice = async () => {
        const run = await bounded(`${c.name} Sluice`, (signal) => sluice(c, signal));
        result.sluice.push(events / run.seconds);
        result.extraReceived += run.extraReceived;
      };
      // Alternate which goes first, so neither always meets a warmer server or JIT.
      if (round % 2 === 0) {
        await runBaseline();
        await runSluice();
      } else {
        await runSluice();
        await runBaseline();
      }
      console.error(
        `round ${round + 1}/${rounds} ${c.name}: baseline ${Math.round(result.baseline.at(-1)!)}/s, Sluice ${Math.round(result.sluice.at(-1)!)}/s`,
      );
    }
  }
} finally {
  for (const c of cases)
    await c.tearDown().catch((error: unknown) => console.error(`${c.name} cleanup:`, error));
}

const loadAtEnd = loadavg()[0]!;
const k = (rate: number) => `${Math.round(rate / 1000)} k`;
const sinkLabel = sinkKind === 'postgres' ? 'PostgreSQL sink' : 'null sink';
const lines = [
  `Broker → Sluice, ${events} events per measurement (~90-byte JSON, own \`id\`), batch ${batch}, median of ${rounds} rounds (order alternating)`,
  '',
  `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), commit ${env.commit}, ${env.date}, load average ${loadAtStart.toFixed(1)} at start and ${loadAtEnd.toFixed(1)} at the end. Sluice: ${workers} workers, ${sinkLabel}, ring ${CAPACITY_BYTES / 1024 / 1024} MiB × 1 partition, maxAckPending / maxPending ${maxPending}.`,
  '',
  `| broker | baseline: 1 thread, read ${batch} + ack (events/s) | Sluice: source → ${workers} workers → ${sinkLabel} (events/s) | Sluice / baseline | rounds: baseline; Sluice |`,
  '| --- | ---: | ---: | ---: | --- |',
  ...results.map((r) => {
    const base = median(r.baseline);
    const ours = median(r.sluice);
    return `| ${r.broker} | ${Math.round(base)} | ${Math.round(ours)} | ${(ours / base).toFixed(2)} | ${r.baseline.map(k).join(', ')}; ${r.sluice.map(k).join(', ')} |`;
  }),
];
const redelivered = results.filter((r) => r.extraReceived > 0);
if (redelivered.length > 0) {
  lines.push(
    '',
    ...redelivered.map(
      (r) => `${r.broker}: ${r.extraReceived} messages delivered more than once across rounds.`,
    ),
  );
}
console.log(lines.join('\n'));
const json = flag('json');
if (json) {
  writeFileSync(
    json,
    `${JSON.stringify({ env, loadAverage: [loadAtStart, loadAtEnd], events, batch, rounds, workers, sink: sinkKind, maxPending, results }, null, 2)}\n`,
  );
}
