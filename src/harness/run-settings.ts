import { resolveSinkSpec } from '../config/sink-spec-schema.js';
import { wallClockMs } from '../queue/record-codec.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { IdLedger } from './id-ledger.js';
import type { LedgerSinkOptions } from './ledger-sink.js';
import type { Scenario } from './scenario.js';
import { SharedHistogram } from './shared-histogram.js';

/** How one system is run. */
export interface RunSettings {
  scenario: Scenario;
  durationMs: number;
  /** Offered events/s (open loop), or 'max' (closed loop). */
  rate: number | 'max';
  workers: number;
  sink: 'null' | 'sqlite' | 'postgres';
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
  readonly histogram = new SharedHistogram();

  constructor(capacity: number, prefix: string) {
    this.ledger = new IdLedger(capacity, prefix);
    this.deadLetters = new IdLedger(capacity, prefix);
  }

  /** Records the sink acknowledged so far, counted per batch by the sink side. */
  readonly progress = new SharedArrayBuffer(4);

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

const LEDGER_SINK = new URL('./ledger-sink.js', import.meta.url).href;

/** The sink every system writes to: the ledger, through the real sink when the run uses one. */
export function benchSinkSpec(
  settings: RunSettings,
  instruments: RunInstruments,
  table: string,
): ResolvedSinkSpec {
  const { scenario } = settings;
  const options: LedgerSinkOptions = {
    ledger: instruments.ledger.buffer,
    prefix: instruments.ledger.prefix,
    histogram: instruments.histogram.buffer,
    latencyFrom: instruments.latencyFrom,
    progress: instruments.progress,
  };
  if (scenario.flaky) options.flaky = scenario.flaky;
  if (scenario.msPerBatch) options.msPerBatch = scenario.msPerBatch;
  if (settings.brokenSink) options.broken = settings.brokenSink;
  if (settings.sink === 'sqlite')
    options.inner = resolveSinkSpec({ type: 'sqlite', path: `${settings.workDir}/${table}.db`, table });
  if (settings.sink === 'postgres') {
    options.inner = resolveSinkSpec({ type: 'postgres', table });
    settings.tables?.push(table);
  }
  return resolveSinkSpec({ module: LEDGER_SINK, options });
}

/** Dead letters are counted by id too, so the report tells dead-lettered from lost. */
export function benchDeadLetterSpec(instruments: RunInstruments): ResolvedSinkSpec {
  const options: LedgerSinkOptions = {
    ledger: instruments.deadLetters.buffer,
    prefix: instruments.deadLetters.prefix,
  };
  return resolveSinkSpec({ module: LEDGER_SINK, options });
}

/** The first part of a run whose latencies are not recorded: a quarter of it, at most one second. */
export function warmupMs(durationMs: number): number {
  return Math.min(1000, durationMs / 4);
}
