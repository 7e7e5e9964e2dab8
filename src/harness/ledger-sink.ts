import { threadId } from 'node:worker_threads';
import type { SinkRecord } from '../codec/event.js';
import { SinkError } from '../errors.js';
import { wallClockMs } from '../queue/record-codec.js';
import { createSink, type SinkContext } from '../sinks/create-sink.js';
import type { Sink, WriteOutcome } from '../sinks/sink.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { IdLedger } from './id-ledger.js';
import { FILTERED_MARK } from './ledger-transform.js';
import { prng } from './prng.js';
import { SharedHistogram } from './shared-histogram.js';

/** Options of the benchmark sink (structured-clone safe: it is built inside worker threads). */
export interface LedgerSinkOptions {
  /** IdLedger buffer and id prefix: every acknowledged id is counted there. */
  ledger: SharedArrayBuffer;
  prefix: string;
  /** SharedHistogram buffer for push → acknowledgement latency (from each record's `ts`). */
  histogram?: SharedArrayBuffer;
  /**
   * One Float64: latency is recorded only for events acknowledged at or after this wall-clock time
   * (ms), so the warm-up — threads starting, modules loading, code not yet optimised — stays out of
   * the percentiles. It goes by acknowledgement, not intended send time: an overloaded system's
   * late events still count, with all their lateness. Every event counts for throughput, loss and
   * duplicates.
   */
  latencyFrom?: SharedArrayBuffer;
  /**
   * Int32 slot 0 a count, then thread ids: each sink built in a worker thread records its thread's
   * id there, so that profiles can be named by role (`--profile`).
   */
  threads?: SharedArrayBuffer;
  /** One Int32 counting acknowledged records, bumped once per batch (the live progress line). */
  progress?: SharedArrayBuffer;
  /**
   * IdLedger buffer counting the ids of events the transform filtered out (ledger-transform.ts
   * marks them): those records are counted here and never reach `inner`.
   */
  filtered?: SharedArrayBuffer;
  /** A real sink to write through first (sqlite, postgres); without it the ledger is the sink. */
  inner?: ResolvedSinkSpec;
  /** 1–5 ms per batch and transient failures, as a remote service would. */
  flaky?: { failRate: number; minDelayMs: number; maxDelayMs: number; seed?: number };
  /** A slow sink: every batch takes this long (the overload scenario's bottleneck). */
  msPerBatch?: number;
  /** Deliberately broken, to prove the accounting catches it. */
  broken?: 'drop-one' | 'duplicate-one';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The benchmark's sink side: writes through a real sink when there is one, then — only after its
 * acknowledgement — counts every id in the shared ledger and every latency in the shared
 * histogram. Not idempotent: a batch delivered twice is counted twice, which is how the report
 * measures duplicates rather than assuming none.
 */
export class LedgerSink implements Sink {
  readonly idempotent = false;
  readonly #ledger: IdLedger;
  readonly #filtered: IdLedger | undefined;
  readonly #histogram: SharedHistogram | undefined;
  readonly #progress: Int32Array | undefined;
  readonly #latencyFrom: Float64Array | undefined;
  readonly #options: LedgerSinkOptions;
  readonly #random: () => number;
  #inner: Sink | undefined;
  #brokenDone = false;

  constructor(options: LedgerSinkOptions, inner?: Sink, threadSeed = 1) {
    this.#options = options;
    this.#ledger = new IdLedger(0, options.prefix, options.ledger);
    this.#filtered = options.filtered ? new IdLedger(0, options.prefix, options.filtered) : undefined;
    this.#histogram = options.histogram ? new SharedHistogram(options.histogram) : undefined;
    this.#progress = options.progress ? new Int32Array(options.progress) : undefined;
    this.#latencyFrom = options.latencyFrom ? new Float64Array(options.latencyFrom) : undefined;
    this.#inner = inner;
    this.#random = prng((options.flaky?.seed ?? 7) ^ Math.imul(threadSeed, 0x9e3779b1));
    if (options.threads && threadId !== 0) {
      const view = new Int32Array(options.threads);
      // The add hands each sink its own slot; the harness reads the slots after the threads are done.
      const slot = Atomics.add(view, 0, 1);
      if (slot < view.length - 1) Atomics.store(view, 1 + slot, threadId);
    }
  }

  async open(): Promise<void> {
    await this.#inner?.open();
  }

  async write(batch: readonly SinkRecord[]): Promise<WriteOutcome | undefined> {
    const { flaky, msPerBatch } = this.#options;
    if (flaky) {
      await sleep(flaky.minDelayMs + this.#random() * (flaky.maxDelayMs - flaky.minDelayMs));
      if (this.#random() < flaky.failRate)
        throw new SinkError('bench sink: injected transient failure', { retryable: true });
    }
    if (msPerBatch) await sleep(msPerBatch);
    const records = this.#filtered ? this.#withoutFiltered(batch) : batch;
    // Records the real sink failed on their own are retried or dead-lettered by the delivery
    // layer: they are not acknowledged, so not counted, and their indexes go back in the batch's.
    const outcome = this.#inner && records.length > 0 ? await this.#inner.write(records) : undefined;
    const failed =
      outcome && outcome.failed.length > 0 ? new Set(outcome.failed.map((f) => f.index)) : undefined;
    const now = wallClockMs();
    const histogram = this.#histogram;
    // A plain read: the value is written once, before the load starts. A thread that still sees the
    // old 0 records a few warm-up latencies too — more samples, never fewer.
    const latencyFrom = this.#latencyFrom?.[0] ?? 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (failed?.has(i)) continue;
      if (this.#options.broken === 'drop-one' && !this.#brokenDone) {
        this.#brokenDone = true;
        continue;
      }
      this.#ledger.record(record.id);
      if (this.#options.broken === 'duplicate-one' && !this.#brokenDone) {
        this.#brokenDone = true;
        this.#ledger.record(record.id);
      }
      if (histogram && record.ts !== undefined && now >= latencyFrom) histogram.recordMs(now - record.ts);
    }
    histogram?.flush();
    if (this.#progress) Atomics.add(this.#progress, 0, records.length - (failed?.size ?? 0));
    if (!failed) return undefined;
    if (records === batch) return outcome;
    const indexes = this.#kept;
    return { failed: outcome!.failed.map((f) => ({ index: indexes[f.index]!, error: f.error })) };
  }

  /** Indexes in the batch of the records passed on by #withoutFiltered. */
  #kept: number[] = [];

  /** The batch without the transform's filter markers, each counted in the filtered ledger. */
  #withoutFiltered(batch: readonly SinkRecord[]): readonly SinkRecord[] {
    let marks = 0;
    for (const record of batch) if (record.source === FILTERED_MARK) marks++;
    if (marks === 0) return batch;
    const kept: SinkRecord[] = [];
    this.#kept = [];
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      if (record.source === FILTERED_MARK) this.#filtered!.record(record.id);
      else {
        kept.push(record);
        this.#kept.push(i);
      }
    }
    return kept;
  }

  async close(): Promise<void> {
    await this.#inner?.close();
  }
}

/** The custom sink module entry: `sink: { module: <this file>, options: LedgerSinkOptions }`. */
export default async function createLedgerSink(options: unknown, context: SinkContext): Promise<Sink> {
  const o = options as LedgerSinkOptions;
  const inner = o.inner ? await createSink(o.inner, context) : undefined;
  return new LedgerSink(o, inner, context.threadId);
}
