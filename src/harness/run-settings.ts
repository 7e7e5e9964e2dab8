import { resolveSinkSpec } from '../config/sink-spec-schema.js';
import { writesTextOnly } from '../engine/worker-sinks.js';
import type { FsyncPolicy } from '../queue/disk-log.js';
import { wallClockMs } from '../queue/record-codec.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { IdLedger } from './id-ledger.js';
import type { LedgerSinkOptions } from './ledger-sink.js';
import type { Scenario } from './scenario.js';
import { SharedHistogram } from './shared-histogram.js';

/**
 * The real sink a run writes through: a built-in one in the run's work directory (postgres:
 * DATABASE_URL), or `config`: the sink and dead-letter sink of the user's pipeline, as configured.
 */
export type BenchSinkKind = 'null' | 'sqlite' | 'postgres' | 'ndjson' | 'config';

/** How one system is run. */
export interface RunSettings {
  scenario: Scenario;
  durationMs: number;
  /** Offered events/s (open loop), or 'max' (closed loop). */
  rate: number | 'max';
  workers: number;
  sink: BenchSinkKind;
  /** Records per batch, overriding the pipeline's batch.maxRecords (`--tune`). */
  batchMaxRecords?: number;
  /** Where a SQLite sink keeps its file. */
  workDir: string;
  /** Producer threads (engine). */
  producers: number;
  /** Upper bound on events a run can push (sizes the id ledger). */
  maxEvents: number;
  /** A deliberately broken sink side, to prove the accounting catches it (tests only). */
  brokenSink?: 'drop-one' | 'duplicate-one';
  /** The engine's metrics recording (on by default; off measures what it costs). */
  metrics?: boolean;
  /** Serve the engine's metrics and live dashboard here while it runs (HOST:PORT). */
  serve?: string;
  /** V8 young generation of each engine worker and producer thread, MiB; 0 = V8's default. @default the pipeline's */
  youngGenerationMb?: number;
  /** The engine's queue on disk (`queue.durability: 'disk'`): the engine-disk system. */
  onDisk?: boolean;
  /** engine-disk's fsync policy. @default 'group' */
  diskFsync?: FsyncPolicy;
  /** Tables the run's sinks create, dropped afterwards (PostgreSQL). */
  tables?: string[];
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  system: string;
  elapsedMs: number;
  durationMs: number;
  acknowledged: number;
  queueDepth: number;
  p99Ms: number;
}

/** Shared-memory instruments of one run: ids acknowledged, ids dead-lettered, latencies. */
export class RunInstruments {
  readonly ledger: IdLedger;
  readonly deadLetters: IdLedger;
  /** Ids of events the transform filtered out (ledger-transform.ts marks them). */
  readonly filtered: IdLedger;
  readonly histogram = new SharedHistogram();
  /**
   * With several routes, one ledger per route (by name): the ids each route's sink acknowledged.
   * An event fanned out is in several; `ledger` stays empty (see systemResult).
   */
  readonly routeLedgers = new Map<string, IdLedger>();
  readonly #capacity: number;

  constructor(capacity: number, prefix: string) {
    this.#capacity = capacity;
    this.ledger = new IdLedger(capacity, prefix);
    this.deadLetters = new IdLedger(capacity, prefix);
    this.filtered = new IdLedger(capacity, prefix);
  }

  /** The ledger of route `name`, made on first use. */
  routeLedger(name: string): IdLedger {
    let ledger = this.routeLedgers.get(name);
    if (!ledger) {
      ledger = new IdLedger(this.#capacity, this.ledger.prefix);
      this.routeLedgers.set(name, ledger);
    }
    return ledger;
  }

  /** Records the sink acknowledged so far, counted per batch by the sink side. */
  readonly progress = new SharedArrayBuffer(4);

  /**
   * Thread ids of the worker threads whose sink wrote for the run (LedgerSinkOptions.threads):
   * Int32 slot 0 counts them, then one id per slot.
   */
  readonly threads = new SharedArrayBuffer(4 * (1 + MAX_THREADS));

  /** The distinct worker thread ids recorded in `threads`, in the order they first wrote. */
  workerThreadIds(): number[] {
    const view = new Int32Array(this.threads);
    const n = Math.min(Atomics.load(view, 0), MAX_THREADS);
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = Atomics.load(view, 1 + i);
      if (id !== 0 && !ids.includes(id)) ids.push(id);
    }
    return ids;
  }

  /** Wall-clock ms from which latencies count (see LedgerSinkOptions.latencyFrom). */
  readonly latencyFrom = new SharedArrayBuffer(8);

  /** Called by a system just before its load starts: the warm-up window begins now. */
  beginLoad(durationMs: number): void {
    new Float64Array(this.latencyFrom)[0] = wallClockMs() + warmupMs(durationMs);
  }

  acknowledged(): number {
    return Atomics.load(new Int32Array(this.progress), 0);
  }
}

/** Worker threads whose ids a run records at most. */
const MAX_THREADS = 256;

const LEDGER_SINK = new URL('./ledger-sink.js', import.meta.url).href;

/** The sink every system writes to: the ledger, through the real sink when the run uses one. */
export function benchSinkSpec(
  settings: RunSettings,
  instruments: RunInstruments,
  table: string,
  /** One of several routes: its own ledger, through its own configured sink. */
  route?: { name: string; sink: ResolvedSinkSpec },
): ResolvedSinkSpec {
  const { scenario } = settings;
  const ledger = route ? instruments.routeLedger(route.name) : instruments.ledger;
  const options: LedgerSinkOptions = {
    ledger: ledger.buffer,
    prefix: ledger.prefix,
    histogram: instruments.histogram.buffer,
    latencyFrom: instruments.latencyFrom,
    progress: instruments.progress,
    threads: instruments.threads,
  };
  if (scenario.pipeline) options.filtered = instruments.filtered.buffer;
  if (scenario.flaky) options.flaky = scenario.flaky;
  if (scenario.msPerBatch) options.msPerBatch = scenario.msPerBatch;
  if (settings.brokenSink) options.broken = settings.brokenSink;
  if (settings.sink === 'sqlite')
    options.inner = resolveSinkSpec({ type: 'sqlite', path: `${settings.workDir}/${table}.db`, table });
  if (settings.sink === 'postgres') {
    options.inner = resolveSinkSpec({ type: 'postgres', table });
    settings.tables?.push(table);
  }
  if (settings.sink === 'ndjson')
    options.inner = resolveSinkSpec({
      type: 'ndjson',
      path: `${settings.workDir}/${table}.ndjson`,
      fsync: 'never',
    });
  if (settings.sink === 'config') options.inner = route ? route.sink : configured(scenario, 'sink');
  // The ledger reads ids only: it writes text as its inner sink does (none: nothing at all).
  const writesText = options.inner === undefined || writesTextOnly(options.inner);
  return resolveSinkSpec({ module: LEDGER_SINK, options, writesText });
}

function configured(scenario: Scenario, role: 'sink' | 'deadLetter'): ResolvedSinkSpec {
  if (!scenario.pipeline) throw new Error(`the ${scenario.name} scenario has no configured ${role}`);
  return scenario.pipeline[role];
}

/**
 * Dead letters are counted by id too, so the report tells dead-lettered from lost; with the
 * configured sink they are written through the configured dead-letter sink.
 */
export function benchDeadLetterSpec(
  instruments: RunInstruments,
  settings?: RunSettings,
  /** A route's own dead-letter sink, in place of the pipeline's. */
  own?: ResolvedSinkSpec,
): ResolvedSinkSpec {
  const options: LedgerSinkOptions = {
    ledger: instruments.deadLetters.buffer,
    prefix: instruments.deadLetters.prefix,
  };
  if (settings?.sink === 'config') options.inner = own ?? configured(settings.scenario, 'deadLetter');
  return resolveSinkSpec({ module: LEDGER_SINK, options });
}

/** The first part of a run whose latencies are not recorded: a quarter of it, at most one second. */
export function warmupMs(durationMs: number): number {
  return Math.min(1000, durationMs / 4);
}
