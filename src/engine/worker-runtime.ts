import { threadId } from 'node:worker_threads';
import type { Context } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';
import { DecodeFailure, decodeFields, type EventFields } from '../codec/decode-event.js';
import type { DecodedEvent, RecordView, SinkRecord } from '../codec/event.js';
import { JsonScanner } from '../codec/json-scan.js';
import { JsonRecord, TextRecord } from '../codec/text-record.js';
import {
  type DeadLetter,
  type DeadLetterReason,
  deadLetter,
  deadLetterRecord,
  describeError,
} from '../delivery/dead-letter.js';
import { deliverBatch } from '../delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import { SinkError, sluiceCodeOf } from '../errors.js';
import { createLogger } from '../logging/logger.js';
import {
  BATCH_SIZE_BUCKETS,
  BatchTally,
  bucketIndex,
  H_BATCH_SIZE,
  H_LATENCY,
  H_WRITE_DURATION,
  LATENCY_BUCKETS,
  M_BATCHES,
  M_BUSY_NS,
  M_ERRORS_PERMANENT,
  M_ERRORS_RETRYABLE,
  M_FILTERED,
  M_RETRIES,
  M_WRITTEN,
  MetricsBlock,
} from '../metrics/metrics-block.js';
import { endSpan, startBatchSpan, startChildSpan } from '../metrics/tracing.js';
import { EventQueue } from '../queue/event-queue.js';
import { payloadText, readRecord, wallClockMs } from '../queue/record-codec.js';
import { forEachRecord } from '../queue/ring-reader.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import { sinkName } from '../sinks/sink-name.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { applyTransform } from '../transforms/apply-transform.js';
import { type LoadedTransform, loadTransform } from '../transforms/transform.js';
import type { BatchResult, BatchTask, WorkerSetup } from './batch-task.js';
import { markTaskStarted } from './task-clock.js';

/** How many event ids a log line about a batch names. */
const LOGGED_IDS = 20;

/** Built-in sinks write `payloadJson` and read `payload` only if asked: they can take TextRecords. */
const TEXT_SINKS = new Set(['null', 'ndjson', 'sqlite', 'postgres', 'nats-jetstream', 'redis-streams']);

/**
 * The dead-letter sink is the last place an event can go: it is retried for as long as it takes
 * (the batch held in the ring meanwhile), never given up on.
 */
function dlqRetry(retry: ResolvedRetryOptions): ResolvedRetryOptions {
  return { ...retry, maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: Number.POSITIVE_INFINITY };
}

/** A task as this worker runs it: when it stops waiting inside for a failing sink (wall-clock ms). */
interface RunningBatch extends BatchTask {
  yieldAt?: number;
}

interface Opened {
  sink: Sink;
  deadLetter: Sink;
}

/**
 * Everything a worker thread does, kept out of `workers/` so it can be tested and profiled like
 * the rest of `src/`: attach to the rings, load the transform, open the sinks (lazily, and again
 * after a failure), and turn a batch descriptor into sink writes and dead letters.
 */
export class WorkerRuntime {
  readonly #setup: WorkerSetup;
  readonly #queue: EventQueue;
  readonly #transform: Promise<LoadedTransform>;
  readonly #metrics: MetricsBlock;
  #log: Logger = pino({ enabled: false });
  readonly #logReady: Promise<void>;
  #sinks: Promise<Opened> | undefined;
  /** No transform module: events reach the sink as they were pushed. */
  readonly #identity: boolean;
  /** The sink writes JSON text and may be handed records whose payload is parsed only on demand. */
  readonly #textSink: boolean;
  readonly #maxDepth: number;
  readonly #scanner = new JsonScanner();
  readonly #dlqRetry: ResolvedRetryOptions;
  readonly #taskStarts: BigInt64Array;

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
    const { transform, sink, retry } = setup.options;
    this.#identity = transform === undefined;
    this.#textSink = 'type' in sink && TEXT_SINKS.has(sink.type);
    this.#dlqRetry = dlqRetry(retry);
    this.#maxDepth = setup.options.maxNestingDepth;
    this.#taskStarts = new BigInt64Array(setup.taskStarts);
    this.#queue = EventQueue.attach(setup.queue);
    this.#metrics = new MetricsBlock(setup.metrics);
    this.#logReady = createLogger(setup.options.log, { thread: 'worker', threadId }).then((logger) => {
      this.#log = logger;
    });
    this.#transform = loadTransform(setup.options.transform, { threadId });
    // Reported through the first task that needs it; this only avoids an unhandled rejection.
    this.#transform.catch(() => {});
  }

  async run(task: BatchTask): Promise<BatchResult> {
    if (task.slot !== undefined) markTaskStarted(this.#taskStarts, task.slot, wallClockMs());
    await this.#logReady;
    const result = emptyResult(task.records);
    if (task.kind === 'ping') {
      // At start-up a broken transform module or sink configuration fails createPipeline() at once;
      // later, a sink that cannot open only defers batches until it can.
      await this.#transform;
      await this.#openSinks();
      return result;
    }
    let sinks: Opened;
    try {
      sinks = await this.#openSinks();
    } catch (error) {
      this.#log.error(
        { partition: task.partition, records: task.records, error: describeError(error) },
        'sinks could not be opened',
      );
      return { ...result, ok: false, error: `cannot open sinks: ${describeError(error)}` };
    }
    const started = performance.now();
    const tally = new BatchTally();
    const traced = startBatchSpan(task.trace, {
      'sluice.partition': task.partition,
      'sluice.records': task.records,
    });
    const batch: RunningBatch =
      task.yieldAfterMs === undefined ? task : { ...task, yieldAt: wallClockMs() + task.yieldAfterMs };
    const done =
      task.kind === 'dead-letter'
        ? await this.#deadLetterRange(batch, sinks, result)
        : await this.#deliverRange(batch, sinks, await this.#transform, result, tally, traced.context);
    endSpan(traced.span, done.ok ? undefined : done.error);
    // Counted once the batch is acknowledged: a deferred batch is counted when it finally is.
    if (done.ok && this.#setup.options.metrics.enabled !== false)
      this.#record(done, tally, performance.now() - started);
    return done;
  }

  /** One Atomics.add per counter and per touched bucket, per batch. */
  #record(result: BatchResult, tally: BatchTally, busyMs: number): void {
    const m = this.#metrics;
    m.add(M_WRITTEN, result.written);
    m.add(M_RETRIES, result.retries);
    m.add(M_ERRORS_RETRYABLE, result.retryableErrors);
    m.add(M_ERRORS_PERMANENT, result.permanentErrors);
    m.add(M_FILTERED, result.filtered);
    m.add(M_BATCHES, 1);
    m.add(M_BUSY_NS, busyMs * 1e6);
    for (const [reason, n] of Object.entries(result.deadLettered) as [DeadLetterReason, number][]) {
      m.deadLettered(reason, n);
    }
    m.observe(H_LATENCY, tally.latency, tally.latencySum, tally.latencyCount);
    if (result.writeMs > 0) {
      const counts = new Float64Array(LATENCY_BUCKETS.length + 1);
      counts[bucketIndex(LATENCY_BUCKETS, result.writeMs / 1000)] = 1;
      m.observe(H_WRITE_DURATION, counts, result.writeMs / 1000, 1);
    }
    const sizes = new Float64Array(BATCH_SIZE_BUCKETS.length + 1);
    sizes[bucketIndex(BATCH_SIZE_BUCKETS, result.records)] = 1;
    m.observe(H_BATCH_SIZE, sizes, result.records, 1);
  }

  /** Closes the sinks this worker opened (on pipeline shutdown). */
  async close(): Promise<void> {
    const sinks = this.#sinks;
    this.#sinks = undefined;
    if (!sinks) return;
    const opened = await sinks.catch(() => undefined);
    await Promise.allSettled([opened?.sink.close(), opened?.deadLetter.close()]);
  }

  /** One log line per retried write, naming the first ids of the records being retried. */
  readonly #retryLog = {
    onRetry: (info: { attempt: number; delayMs: number; records: readonly SinkRecord[]; error: unknown }) => {
      this.#log.warn(
        {
          attempt: info.attempt,
          retryInMs: Math.round(info.delayMs),
          records: info.records.length,
          ids: info.records.slice(0, LOGGED_IDS).map((r) => r.id),
          error: describeError(info.error),
        },
        'sink write failed, retrying',
      );
    },
  };

  #openSinks(): Promise<Opened> {
    if (!this.#sinks) {
      const { sink, deadLetter, ordering } = this.#setup.options;
      const open = async (
        spec: ResolvedSinkSpec,
        role: 'sink' | 'deadLetter',
        writerLock?: SharedArrayBuffer,
      ) => {
        try {
          const built = await createSink(spec, { threadId, role, ordering, writerLock });
          await built.open();
          return built;
        } catch (error) {
          // Whatever a sink throws (SQLite's own errors, a missing module) is a SinkError with its
          // code by the time it reaches createPipeline() or a deferred batch's log line.
          if (sluiceCodeOf(error) !== undefined) throw error;
          throw new SinkError(`${role} ${sinkName(spec)} cannot be opened: ${describeError(error)}`, {
            retryable: true,
            cause: error,
          });
        }
      };
      this.#sinks = (async () => ({
        sink: await open(sink, 'sink', this.#setup.writerLocks[0]),
        deadLetter: await open(deadLetter, 'deadLetter', this.#setup.writerLocks[1]),
      }))();
      // A failed open is tried again by the next batch (the sink may come back).
      this.#sinks.catch(() => {
        this.#sinks = undefined;
      });
    }
    return this.#sinks;
  }

  async #deliverRange(
    task: RunningBatch,
    sinks: Opened,
    transform: LoadedTransform,
    result: BatchResult,
    tally: BatchTally,
    trace: Context,
  ): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    const out: SinkRecord[] = [];
    const enqueuedAt: number[] = [];
    const offsets: number[] = [];
    forEachRecord(ring, task.start, task.end, (at) => offsets.push(at));
    const transformSpan = startChildSpan('sluice.transform', trace);
    const bytes = ring.bytes;
    for (const at of offsets) {
      const view = readRecord(ring, at);
      const start = view.payloadOffset;
      const end = start + view.payloadLength;
      let fields: EventFields;
      try {
        fields = decodeFields(this.#scanner, bytes, start, end, view, this.#maxDepth);
      } catch (error) {
        letters.push(this.#undecodable(view, payloadText(ring, view), error));
        continue;
      }
      if (this.#identity && this.#textSink) {
        // Nothing changes the payload and the sink writes JSON: it goes as the bytes it was
        // pushed as, read from the ring only when the sink copies them.
        out.push(new TextRecord(fields.id, fields.key, fields.source, fields.ts, bytes, start, end));
        enqueuedAt.push(view.enqueuedAt);
        continue;
      }
      const text = payloadText(ring, view);
      // Checked by decodeFields: parses.
      const event: DecodedEvent = { ...fields, payload: JSON.parse(text) as unknown };
      if (this.#identity) {
        out.push({ ...fields, payload: event.payload, payloadJson: text });
        enqueuedAt.push(view.enqueuedAt);
        continue;
      }
      const before = out.length;
      const lettersBefore = letters.length;
      const pending = applyTransform(transform, event, out, letters);
      if (pending) await pending;
      if (out.length === before && letters.length === lettersBefore) result.filtered++;
      serialiseOutputs(out, before, text, letters, this.#textSink);
      for (let i = before; i < out.length; i++) enqueuedAt.push(view.enqueuedAt);
    }
    transformSpan.end();
    if (out.length > 0) {
      const writeSpan = startChildSpan('sluice.sink.write', trace, { 'sluice.records': out.length });
      const report = await deliverBatch(sinks.sink, out, this.#setup.options.retry, this.#retryLog, {
        carried: task.retry,
        yieldAt: task.yieldAt,
      });
      endSpan(
        writeSpan,
        report.held
          ? `${report.held.records.length} records held for a later retry`
          : report.deadLetters.length > 0
            ? `${report.deadLetters.length} records not delivered`
            : undefined,
      );
      if (report.held) {
        // The sink is still failing: hand the range back to be held in the ring and dispatched
        // again after the backoff, with its retry count and first failure carried along.
        const { attempts, firstFailureAt, retryInMs, error } = report.held;
        return {
          ...result,
          ok: false,
          error: `sink still failing after ${attempts} attempts: ${describeError(error)}`,
          retry: { attempts, firstFailureAt },
          retryInMs,
        };
      }
      result.written = report.written;
      result.retries = report.retries;
      result.retryableErrors = report.retryableErrors;
      result.permanentErrors = report.permanentErrors;
      result.writeMs = report.writeMs;
      letters.push(...report.deadLetters);
      const ackedAt = wallClockMs();
      // Latency over every emitted record; those that were dead-lettered are a handful at most.
      for (const t of enqueuedAt) {
        const latency = ackedAt - t;
        tally.observeLatencySeconds(latency / 1000);
        result.latencySumMs += latency;
        if (latency > result.latencyMaxMs) result.latencyMaxMs = latency;
      }
    }
    return this.#finish(sinks, letters, result, task);
  }

  /** A record that cannot become an event: its dead letter keeps its fields and its text. */
  #undecodable(view: RecordView, text: string, error: unknown): DeadLetter {
    const reason =
      error instanceof DecodeFailure ? error.reason : view.raw ? 'invalid-json' : 'invalid-event';
    return deadLetter(
      {
        id: view.id,
        key: view.key,
        source: view.source,
        ts: view.ts ?? (error instanceof DecodeFailure ? error.ts : undefined),
        raw: text,
      },
      reason,
      error instanceof DecodeFailure ? (error.cause ?? error.message) : error,
    );
  }

  async #deadLetterRange(task: RunningBatch, sinks: Opened, result: BatchResult): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    forEachRecord(ring, task.start, task.end, (at) => {
      const view = readRecord(ring, at);
      letters.push(
        deadLetter(
          { id: view.id, key: view.key, source: view.source, ts: view.ts, raw: payloadText(ring, view) },
          task.reason ?? 'worker-crash',
          task.error ?? 'unknown',
          task.attempts ?? 1,
        ),
      );
    });
    return this.#finish(sinks, letters, result, task);
  }

  /**
   * Writes dead letters. The dead-letter sink is retried without a budget; while it fails, the
   * whole range stays unacknowledged and is handed back to be held in the ring. A letter it refuses
   * outright is tried once more without its payload; refused again, the range is handed back to be
   * split, so its other events are not held behind it.
   */
  async #finish(
    sinks: Opened,
    letters: DeadLetter[],
    result: BatchResult,
    task: RunningBatch,
  ): Promise<BatchResult> {
    if (letters.length === 0) return result;
    let report = await deliverBatch(
      sinks.deadLetter,
      letters.map(deadLetterRecord),
      this.#dlqRetry,
      {},
      {
        yieldAt: task.yieldAt,
      },
    );
    if (report.deadLetters.length > 0 && !report.held) {
      const refused = new Set(report.deadLetters.map((l) => l.event.id));
      const bare = letters.filter((l) => refused.has(l.event.id)).map(withoutPayload);
      this.#log.warn(
        { events: bare.length, error: report.deadLetters[0]!.lastError },
        'dead-letter sink refused letters; writing them without their payload',
      );
      report = await deliverBatch(
        sinks.deadLetter,
        bare.map(deadLetterRecord),
        this.#dlqRetry,
        {},
        {
          yieldAt: task.yieldAt,
        },
      );
    }
    if (report.held || report.deadLetters.length > 0) {
      const error = report.held ? describeError(report.held.error) : report.deadLetters[0]!.lastError;
      this.#log.error({ events: letters.length, error }, 'dead-letter sink failed');
      return {
        ...result,
        ok: false,
        error: `dead-letter sink failed: ${error}`,
        isolate: !report.held,
        retryInMs: report.held?.retryInMs,
      };
    }
    const reasons: Record<string, number> = {};
    for (const letter of letters) reasons[letter.reason] = (reasons[letter.reason] ?? 0) + 1;
    this.#log.warn(
      { events: letters.length, reasons, ids: letters.slice(0, LOGGED_IDS).map((l) => l.event.id) },
      'events dead-lettered',
    );
    for (const letter of letters)
      result.deadLettered[letter.reason] = (result.deadLettered[letter.reason] ?? 0) + 1;
    return result;
  }
}

/** A dead letter with only the event's fields: for a dead-letter sink that refused the payload. */
function withoutPayload(letter: DeadLetter): DeadLetter {
  const { id, key, source, ts } = letter.event;
  return {
    ...letter,
    event: { id, key, source, ts, payloadError: 'left out: the dead-letter sink refused it' },
  };
}

/**
 * Serialises the payloads a transform emitted for one event (out[from…]), once, here: a payload
 * that cannot be written as JSON — nested too deep for the serialiser, a BigInt, a cycle, a
 * function — is dead-lettered as `unserializable` with the event's text, instead of failing its
 * whole batch in the sink.
 */
function serialiseOutputs(
  out: SinkRecord[],
  from: number,
  text: string,
  letters: DeadLetter[],
  textOnly: boolean,
): void {
  let kept = from;
  for (let i = from; i < out.length; i++) {
    const record = out[i]!;
    let json: string | undefined;
    let failure: unknown;
    try {
      json = JSON.stringify(record.payload);
    } catch (error) {
      failure = error;
    }
    if (json === undefined) {
      letters.push(
        deadLetter(
          { id: record.id, key: record.key, source: record.source, ts: record.ts, raw: text },
          'unserializable',
          failure ?? `payload cannot be written as JSON (${typeof record.payload})`,
        ),
      );
      continue;
    }
    // A built-in sink needs the text only: the payload object need not outlive this event.
    if (textOnly) out[kept++] = new JsonRecord(record.id, record.key, record.source, record.ts, json);
    else {
      record.payloadJson = json;
      out[kept++] = record;
    }
  }
  out.length = kept;
}

function emptyResult(records: number): BatchResult {
  return {
    ok: true,
    records,
    written: 0,
    filtered: 0,
    deadLettered: {},
    retries: 0,
    retryableErrors: 0,
    permanentErrors: 0,
    writeMs: 0,
    latencySumMs: 0,
    latencyMaxMs: 0,
    threadId,
  };
}

export type { DeadLetterReason };
