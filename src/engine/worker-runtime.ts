import { threadId } from 'node:worker_threads';
import type { Context } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';
import { decodeFields, type EventFields } from '../codec/decode-event.js';
import type { DecodedEvent, SinkRecord } from '../codec/event.js';
import { JsonScanner } from '../codec/json-scan.js';
import { TextRecord } from '../codec/text-record.js';
import { type DeadLetter, deadLetter, describeError } from '../delivery/dead-letter.js';
import { type DeliveryHooks, deliverBatch } from '../delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import { createLogger } from '../logging/logger.js';
import {
  BatchTally,
  M_DEAD_LETTER_SINK_FAILING_SINCE_MS,
  M_SINK_FAILING_SINCE_MS,
  MetricsBlock,
} from '../metrics/metrics-block.js';
import { endSpan, startBatchSpan, startChildSpan } from '../metrics/tracing.js';
import { EventQueue } from '../queue/event-queue.js';
import { payloadText, readRecord, wallClockMs } from '../queue/record-codec.js';
import { forEachRecord, recordOffsets } from '../queue/ring-reader.js';
import { loadTransform } from '../transforms/transform.js';
import { countAttempt, recordBatch, recordBusy, trackSinkUp } from './batch-metrics.js';
import type { BatchResult, BatchTask, DeadLetterTask, WorkerSetup } from './batch-task.js';
import {
  deadLetterRetry,
  type TransformStage,
  transformEvent,
  undecodable,
  writeDeadLetters,
} from './event-path.js';
import { markTaskStarted } from './task-clock.js';
import { type OpenedSinks, WorkerSinks, writesTextOnly } from './worker-sinks.js';

/** How many event ids a log line about a batch names. */
const LOGGED_IDS = 20;

/** A task as this worker runs it: when it stops waiting inside for a failing sink (wall-clock ms). */
type RunningBatch<Task extends BatchTask = BatchTask> = Task & { yieldAt?: number };

/**
 * Everything a worker thread does, kept out of `workers/` so it can be tested and profiled like
 * the rest of `src/`: attach to the rings, load the transform, open the sinks (lazily, and again
 * after a failure), and turn a batch descriptor into sink writes and dead letters.
 */
export class WorkerRuntime {
  readonly #setup: WorkerSetup;
  readonly #queue: EventQueue;
  /** The transform stage once its module is loaded (at once without one). */
  readonly #stage: Promise<TransformStage>;
  readonly #metrics: MetricsBlock;
  #log: Logger = pino({ enabled: false });
  readonly #logReady: Promise<void>;
  readonly #sinks: WorkerSinks;
  /** No transform module: events reach the sink as they were pushed. */
  readonly #identity: boolean;
  /** The sink writes JSON text and may be handed records whose payload is parsed only on demand. */
  readonly #textSink: boolean;
  readonly #maxDepth: number;
  readonly #scanner = new JsonScanner();
  readonly #deadLetterRetry: ResolvedRetryOptions;
  readonly #taskStarts: BigInt64Array;

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
    const { transform, sink, retry } = setup.options;
    this.#identity = transform === undefined;
    this.#textSink = writesTextOnly(sink);
    this.#deadLetterRetry = deadLetterRetry(retry);
    this.#maxDepth = setup.options.maxNestingDepth;
    this.#taskStarts = new BigInt64Array(setup.taskStarts);
    this.#queue = EventQueue.attach(setup.queue);
    this.#metrics = new MetricsBlock(setup.metrics);
    this.#logReady = createLogger(setup.options.log, { thread: 'worker', threadId }).then((logger) => {
      this.#log = logger;
    });
    this.#sinks = new WorkerSinks(setup);
    const textSink = this.#textSink;
    this.#stage = loadTransform(setup.options.transform, { threadId }).then((loaded) => ({
      transform: this.#identity ? undefined : loaded,
      textSink,
    }));
    // Reported through the first task that needs it; this only avoids an unhandled rejection.
    this.#stage.catch(() => {});
  }

  async run(task: BatchTask): Promise<BatchResult> {
    if (task.slot !== undefined) markTaskStarted(this.#taskStarts, task.slot, wallClockMs());
    await this.#logReady;
    const result = emptyResult(task.records);
    if (task.kind === 'ping') {
      // At start-up a broken transform module or sink configuration fails createPipeline() at once;
      // later, a sink that cannot open only defers batches until it can.
      await this.#stage;
      await this.#sinks.open();
      return result;
    }
    let sinks: OpenedSinks;
    const metered = this.#setup.options.metrics.enabled !== false;
    try {
      sinks = await this.#sinks.open();
      // Open again after failing to: the role that could not open is up, whether or not this batch
      // writes to it (a batch whose events are all filtered writes nothing).
      if (this.#openFailedSlot !== undefined) {
        if (metered) this.#metrics.sinkWrote(this.#openFailedSlot);
        this.#openFailedSlot = undefined;
      }
    } catch (error) {
      this.#openFailedSlot =
        this.#sinks.failedRole === 'deadLetter'
          ? M_DEAD_LETTER_SINK_FAILING_SINCE_MS
          : M_SINK_FAILING_SINCE_MS;
      if (metered) this.#metrics.sinkFailed(this.#openFailedSlot, wallClockMs());
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
      batch.kind === 'dead-letter'
        ? await this.#deadLetterRange(batch, sinks, result)
        : await this.#deliverRange(batch, sinks, await this.#stage, result, tally, traced.context);
    endSpan(traced.span, done.ok ? undefined : done.error);
    if (this.#setup.options.metrics.enabled !== false) {
      recordBusy(this.#metrics, performance.now() - started);
      if (done.ok) recordBatch(this.#metrics, done, tally);
    }
    return done;
  }

  /** Closes the sinks this worker opened (on pipeline shutdown). */
  close(): Promise<void> {
    return this.#sinks.close();
  }

  /**
   * The sink's hooks: every write attempt counted as it happens (errors, retries, whether the sink
   * is up), and one log line per retried write, naming the first ids of the records being retried.
   */
  /** The failing-since slot of the sink role this worker last failed to open, until it opens. */
  #openFailedSlot: number | undefined;

  readonly #sinkHooks: DeliveryHooks = {
    onAttempt: (info) => {
      if (this.#setup.options.metrics.enabled === false) return;
      countAttempt(this.#metrics, info);
      trackSinkUp(this.#metrics, M_SINK_FAILING_SINCE_MS, info, wallClockMs());
    },
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

  /** Whether the dead-letter sink is up, as it happens. */
  readonly #deadLetterHooks: DeliveryHooks = {
    onAttempt: (info) => {
      if (this.#setup.options.metrics.enabled !== false)
        trackSinkUp(this.#metrics, M_DEAD_LETTER_SINK_FAILING_SINCE_MS, info, wallClockMs());
    },
  };

  async #deliverRange(
    task: RunningBatch,
    sinks: OpenedSinks,
    stage: TransformStage,
    result: BatchResult,
    tally: BatchTally,
    trace: Context,
  ): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    const out: SinkRecord[] = [];
    const enqueuedAt: number[] = [];
    const offsets = recordOffsets(ring, task.start, task.end);
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
        letters.push(undecodable(view, payloadText(ring, view), error));
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
      const before = out.length;
      const lettersBefore = letters.length;
      const pending = transformEvent(stage, event, text, out, letters);
      if (pending) await pending;
      // Nothing emitted and nothing failed: the transform filtered the event out. (An output that
      // could not be serialised moved from `out` to `letters`: not filtered.)
      if (out.length === before && letters.length === lettersBefore) result.filtered++;
      for (let i = before; i < out.length; i++) enqueuedAt.push(view.enqueuedAt);
    }
    transformSpan.end();
    if (out.length > 0) {
      const writeSpan = startChildSpan('sluice.sink.write', trace, { 'sluice.records': out.length });
      const report = await deliverBatch(sinks.sink, out, this.#setup.options.retry, this.#sinkHooks, {
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

  async #deadLetterRange(
    task: RunningBatch<DeadLetterTask>,
    sinks: OpenedSinks,
    result: BatchResult,
  ): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    forEachRecord(ring, task.start, task.end, (at) => {
      const view = readRecord(ring, at);
      letters.push(
        deadLetter(
          { id: view.id, key: view.key, source: view.source, ts: view.ts, raw: payloadText(ring, view) },
          task.reason,
          task.error,
          task.attempts,
        ),
      );
    });
    return this.#finish(sinks, letters, result, task);
  }

  /**
   * Writes the batch's dead letters (writeDeadLetters). While the dead-letter sink fails, the whole
   * range stays unacknowledged and is handed back to be held in the ring; a letter it refuses even
   * without its payload has the range handed back to be split, so its other events are not held
   * behind it.
   */
  async #finish(
    sinks: OpenedSinks,
    letters: DeadLetter[],
    result: BatchResult,
    task: RunningBatch,
  ): Promise<BatchResult> {
    if (letters.length === 0) return result;
    const written = await writeDeadLetters(
      sinks.deadLetter,
      letters,
      this.#deadLetterRetry,
      this.#log,
      task.yieldAt,
      this.#deadLetterHooks,
    );
    if (!written.ok) {
      this.#log.error({ events: letters.length, error: written.error }, 'dead-letter sink failed');
      return {
        ...result,
        ok: false,
        error: `dead-letter sink failed: ${written.error}`,
        isolate: written.isolate,
        retryInMs: written.retryInMs,
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
