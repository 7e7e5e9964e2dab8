import { threadId } from 'node:worker_threads';
import type { Context } from '@opentelemetry/api';
import { BufferPool } from '../codec/buffer-pool.js';
import { decodeFields, decodeParsed, type EventFields, withPayload } from '../codec/decode-event.js';
import type { DecodedEvent, SinkRecord } from '../codec/event.js';
import { JsonScanner } from '../codec/json-scan.js';
import type { LazyPayload } from '../codec/lazy-payload.js';
import { ARENA_CHUNK_BYTES, PayloadArena } from '../codec/payload-arena.js';
import { TextRecord } from '../codec/text-record.js';
import {
  type DeadLetter,
  type DeadLetterReason,
  deadLetter,
  describeError,
} from '../delivery/dead-letter.js';
import { type DeliveryHooks, deliverBatch, type RetryState } from '../delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import { type WorkerLogger, workerLogger } from '../logging/worker-logger.js';
import {
  BatchTally,
  M_DEAD_LETTER_SINK_FAILING_SINCE_MS,
  MetricsBlock,
  R_DEAD_LETTER_FAILING_SINCE_MS,
  R_SINK_FAILING_SINCE_MS,
  routeSlot,
} from '../metrics/metrics-block.js';
import { endSpan, startBatchSpan, startChildSpan } from '../metrics/tracing.js';
import { emptyObjectList } from '../object-list.js';
import { EventQueue } from '../queue/event-queue.js';
import { DEFAULT_MAX_BATCH_BYTES } from '../queue/queue-options.js';
import { payloadText, readRecord, recordId, wallClockMs } from '../queue/record-codec.js';
import type { Ring } from '../queue/ring-buffer.js';
import { forEachRecord, RangeCopy, recordOffsets } from '../queue/ring-reader.js';
import { loadTransform } from '../transforms/transform.js';
import { countAttempt, recordBatch, recordBusy, trackSinkUp } from './batch-metrics.js';
import type {
  BatchResult,
  BatchTask,
  DeadLetterTask,
  RangeRetry,
  RouteDone,
  WorkerSetup,
} from './batch-task.js';
import {
  deadLetterRetry,
  eventPayload,
  routeEach,
  type TransformStage,
  transformEvent,
  undecodable,
  writeDeadLetters,
} from './event-path.js';
import { RouteTable } from './route-table.js';
import { markTaskStarted } from './task-clock.js';
import { copiesPayloadBytes, type OpenedSinks, WorkerSinks, writesTextOnly } from './worker-sinks.js';

/** How many event ids a log line about a batch names. */
const LOGGED_IDS = 20;

/** A task as this worker runs it: when it stops waiting inside for a failing sink (wall-clock ms). */
type RunningBatch<Task extends BatchTask = BatchTask> = Task & { yieldAt?: number };

/**
 * The task as this worker runs it, with the wall-clock time it stops waiting for a failing sink.
 * A deliver task gets one shape whatever it carries: tasks arrive by structured clone with only the
 * members the dispatcher set (a slot, a retry, a trace context, or not), and each set of members is
 * another hidden class — the optimised batch path, compiled for the ones it had met, was thrown
 * away at the next (`wrong map`), up to once a batch (docs/MEASUREMENTS.md).
 */
function runningBatch(task: BatchTask): RunningBatch {
  const yieldAt = task.yieldAfterMs === undefined ? undefined : wallClockMs() + task.yieldAfterMs;
  if (task.kind !== 'deliver') return yieldAt === undefined ? task : { ...task, yieldAt };
  return {
    kind: task.kind,
    partition: task.partition,
    start: task.start,
    end: task.end,
    records: task.records,
    retry: task.retry,
    yieldAfterMs: task.yieldAfterMs,
    slot: task.slot,
    trace: task.trace,
    yieldAt,
  };
}

/**
 * Arena chunks a worker keeps for the next batch: a batch of the default size whose outputs are up
 * to twice its input fits in them; more are taken fresh and left to the collector.
 */
const ARENA_CHUNKS_KEPT = (2 * DEFAULT_MAX_BATCH_BYTES) / ARENA_CHUNK_BYTES;

/** The thread's transform stage, with the batch's arena when it has one (always the same shape). */
function batchStage(stage: TransformStage, arena: PayloadArena | undefined): TransformStage {
  return arena === undefined
    ? stage
    : { transform: stage.transform, textSink: stage.textSink, payloadArena: arena };
}

/**
 * After a record's transform: each output it added to `out` gets the record's enqueue time; a
 * record that added nothing and failed nothing was filtered out. (An output that could not be
 * serialised moved from `out` to `letters`: not filtered.)
 */
function countOutputs(
  out: readonly SinkRecord[],
  before: number,
  letters: readonly DeadLetter[],
  lettersBefore: number,
  enqueuedAt: number[],
  enqueued: number,
  result: BatchResult,
): void {
  if (out.length === before && letters.length === lettersBefore) result.filtered++;
  for (let i = before; i < out.length; i++) enqueuedAt.push(enqueued);
}

/** Only there to make `out` an array of objects before its first push (#deliverRange). */
const NO_RECORD: SinkRecord = Object.freeze({
  id: '',
  key: undefined,
  source: undefined,
  ts: undefined,
  payload: null,
});

/**
 * Everything a worker thread does, kept out of `workers/` so it can be tested and profiled like
 * the rest of `src/`: attach to the rings, load the transform, open the sinks (lazily, and again
 * after a failure), and turn a batch descriptor into sink writes and dead letters.
 */
export class WorkerRuntime {
  readonly #setup: WorkerSetup;
  readonly #queue: EventQueue;
  /**
   * The transform stage once its module is loaded (at once without one) and its setup() has run;
   * undefined after that failed, so that the next task starts it again: a setup() that failed on
   * something passing (a service it reads that blinked) must not fail every batch from then on.
   */
  #stage: Promise<TransformStage> | undefined;
  /** How many times this worker has started the transform: each start after the first imports it anew. */
  #starts = 0;
  readonly #metrics: MetricsBlock;
  readonly #log: WorkerLogger;
  readonly #sinks: WorkerSinks;
  /** No transform module: events reach the sink as they were pushed. */
  readonly #identity: boolean;
  /** The sink writes JSON text and may be handed records whose payload is parsed only on demand. */
  readonly #textSink: boolean;
  readonly #maxDepth: number;
  readonly #scanner = new JsonScanner();
  /** Memory for the ranges copied out of the ring (RangeCopy): one per batch in flight, used again. */
  readonly #rangeCopies = new BufferPool(DEFAULT_MAX_BATCH_BYTES, 4);
  /**
   * Memory for the transform's outputs when the sink copies their bytes (PayloadArena): a batch's
   * arena takes its chunks here and gives them back when the batch ends; undefined otherwise.
   */
  readonly #arenaChunks: BufferPool | undefined;
  readonly #deadLetterRetry: ResolvedRetryOptions;
  readonly #taskStarts: BigInt64Array;
  readonly #routes: RouteTable;
  /** Each route's retry options, sink hooks and dead-letter hooks, in the routes' order. */
  readonly #routeRetry: ResolvedRetryOptions[];
  readonly #routeLettersRetry: ResolvedRetryOptions[];
  readonly #routeHooks: DeliveryHooks[];
  readonly #routeLetterHooks: DeliveryHooks[];

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
    const { transform, routes, defaultRoute, retry } = setup.options;
    this.#identity = transform === undefined;
    this.#routes = new RouteTable(routes, defaultRoute);
    const routeList = Object.values(routes);
    this.#textSink = routeList.every((route) => writesTextOnly(route.sink));
    this.#deadLetterRetry = deadLetterRetry(retry);
    this.#routeRetry = routeList.map((route) => route.retry);
    this.#routeLettersRetry = routeList.map((route) => deadLetterRetry(route.retry));
    this.#routeHooks = routeList.map((_, i) => this.#sinkHooks(i));
    this.#routeLetterHooks = routeList.map((route, i) =>
      this.#deadLetterHooks(
        route.deadLetter === undefined
          ? M_DEAD_LETTER_SINK_FAILING_SINCE_MS
          : routeSlot(i, R_DEAD_LETTER_FAILING_SINCE_MS),
      ),
    );
    this.#maxDepth = setup.options.maxNestingDepth;
    this.#taskStarts = new BigInt64Array(setup.taskStarts);
    this.#queue = EventQueue.attach(setup.queue);
    this.#metrics = new MetricsBlock(setup.metrics);
    this.#log = workerLogger(setup.options.log, { thread: 'worker', threadId });
    this.#sinks = new WorkerSinks(setup);
    const textSink = this.#textSink;
    this.#arenaChunks =
      !this.#identity && textSink && routeList.every((route) => copiesPayloadBytes(route.sink))
        ? new BufferPool(ARENA_CHUNK_BYTES, ARENA_CHUNKS_KEPT)
        : undefined;
    this.#stage = this.#startStage();
  }

  #startStage(): Promise<TransformStage> {
    const stage = loadTransform(this.#setup.options.transform, { threadId }, this.#starts++).then(
      (loaded) => ({
        transform: this.#identity ? undefined : loaded,
        textSink: this.#textSink,
      }),
    );
    // Reported through the task that awaits it. Registered first, this runs before that task
    // resumes, and the next task starts the transform again.
    stage.catch(() => {
      if (this.#stage === stage) this.#stage = undefined;
    });
    return stage;
  }

  /** The transform stage, started again when its last start failed. */
  #currentStage(): Promise<TransformStage> {
    this.#stage ??= this.#startStage();
    return this.#stage;
  }

  async run(task: BatchTask): Promise<BatchResult> {
    if (task.slot !== undefined) markTaskStarted(this.#taskStarts, task.slot, wallClockMs(), threadId);
    const result = emptyResult(task.records);
    if (task.kind === 'ping') {
      // At start-up a broken transform module or sink configuration fails createPipeline() at once;
      // later, a sink that cannot open only defers batches until it can.
      await this.#currentStage();
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
      this.#openFailedSlot = this.#sinks.failedSlot;
      if (metered && this.#openFailedSlot !== undefined)
        this.#metrics.sinkFailed(this.#openFailedSlot, wallClockMs());
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
    const batch = runningBatch(task);
    let stage: TransformStage | undefined;
    if (batch.kind !== 'dead-letter') {
      try {
        stage = await this.#currentStage();
      } catch (error) {
        // Not the batch's fault: it stays in the ring and is tried again after a backoff, as when
        // a sink cannot open, and this worker starts the transform again for it.
        this.#log.error(
          { partition: task.partition, records: task.records, error: describeError(error) },
          'the transform could not be started',
        );
        endSpan(traced.span, describeError(error));
        return { ...result, ok: false, error: `cannot start the transform: ${describeError(error)}` };
      }
    }
    // Events nothing changes reach the sink as their bytes: copied out of the ring here in one
    // piece (RangeCopy), not one by one as the sink writes them.
    const copy =
      batch.kind !== 'dead-letter' && this.#identity && this.#textSink
        ? new RangeCopy(this.#queue.rings[batch.partition]!, batch.start, batch.end, this.#rangeCopies)
        : undefined;
    // The batch's own arena, so that giving its chunks back cannot touch another batch's records.
    const arena =
      batch.kind !== 'dead-letter' && this.#arenaChunks ? new PayloadArena(this.#arenaChunks) : undefined;
    const done =
      batch.kind === 'dead-letter'
        ? await this.#deadLetterRange(batch, sinks, result)
        : await this.#deliverRange(
            batch,
            sinks,
            batchStage(stage!, arena),
            result,
            tally,
            traced.context,
            copy,
          );
    // Delivered or handed back, every route's writes and dead letters have settled: nothing reads
    // the copy's records, nor the arena's, any more. (After a throw, a route's write may still be
    // running: both are left to the collector.)
    if (copy) this.#rangeCopies.give(copy.bytes);
    arena?.release();
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

  /** The failing-since slot of the sink this worker last failed to open, until it opens. */
  #openFailedSlot: number | undefined;

  /**
   * A route's sink hooks: every write attempt counted as it happens (errors, retries, whether the
   * route's sink is up), and one log line per retried write, naming the first ids of the records
   * being retried.
   */
  #sinkHooks(route: number): DeliveryHooks {
    const name = this.#routes.names[route];
    const failingSlot = routeSlot(route, R_SINK_FAILING_SINCE_MS);
    return {
      onAttempt: (info) => {
        if (this.#setup.options.metrics.enabled === false) return;
        countAttempt(this.#metrics, info);
        trackSinkUp(this.#metrics, failingSlot, info, wallClockMs());
      },
      onRetry: (info: {
        attempt: number;
        delayMs: number;
        records: readonly SinkRecord[];
        error: unknown;
      }) => {
        this.#log.warn(
          {
            ...(this.#routes.single ? {} : { route: name }),
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
  }

  /** Whether a dead-letter sink (its failing-since slot) is up, as it happens. */
  #deadLetterHooks(failingSlot: number): DeliveryHooks {
    return {
      onAttempt: (info) => {
        if (this.#setup.options.metrics.enabled !== false)
          trackSinkUp(this.#metrics, failingSlot, info, wallClockMs());
      },
    };
  }

  readonly #pipelineLetterHooks = this.#deadLetterHooks(M_DEAD_LETTER_SINK_FAILING_SINCE_MS);

  /**
   * The range's records when nothing changes a payload and the sink writes JSON: each goes as the
   * bytes it was pushed as, from the range's copy, once its fields are read and its JSON checked.
   */
  #copyRange(
    ring: Ring,
    offsets: readonly number[],
    copy: RangeCopy,
    takenAt: number,
    out: SinkRecord[],
    letters: DeadLetter[],
    enqueuedAt: number[],
    result: BatchResult,
  ): void {
    const bytes = ring.bytes;
    for (const at of offsets) {
      // A raw record's stored id is decoded only if its line has none (decodeFields).
      const view = readRecord(ring, at, false);
      result.queueWaitMsSum += Math.max(0, takenAt - view.enqueuedAt);
      const start = view.payloadOffset;
      const end = start + view.payloadLength;
      let fields: EventFields;
      try {
        fields = decodeFields(this.#scanner, bytes, start, end, view, this.#maxDepth);
      } catch (error) {
        letters.push(undecodable({ ...view, id: recordId(ring, view) }, payloadText(ring, view), error));
        continue;
      }
      const from = copy.offsetOf(start);
      out.push(
        new TextRecord(fields.id, fields.key, fields.source, fields.ts, copy.bytes, from, from + end - start),
      );
      enqueuedAt.push(view.enqueuedAt);
    }
  }

  /**
   * The range's records as events: each decoded, its payload parsed (or a lazy view of it, when
   * the transform asks), through the transform, its outputs serialised into `out` — in order, one
   * record at a time, an asynchronous transform's included.
   *
   * The loop and the record are methods of their own. As one, the method — the transform inlined
   * into it — was compiled twice in each worker, on-stack in the first batch's loop and then
   * whole, 20–40 ms each; split, the record's method is compiled once, and the loop's compilations
   * are small (docs/MEASUREMENTS.md, "the transform path compiled once").
   */
  async #transformRange(
    ring: Ring,
    offsets: readonly number[],
    stage: TransformStage,
    takenAt: number,
    out: SinkRecord[],
    letters: DeadLetter[],
    enqueuedAt: number[],
    result: BatchResult,
  ): Promise<void> {
    // A transform or the sink is handed every payload parsed (not lazily): the parse can check
    // each record in place of the scan (decodeParsed).
    const parseWhole = stage.transform?.lazyPayload !== true;
    for (const at of offsets) {
      const pending = this.#transformRecord(
        ring,
        at,
        stage,
        parseWhole,
        takenAt,
        out,
        letters,
        enqueuedAt,
        result,
      );
      if (pending) await pending;
    }
  }

  /**
   * One record of #transformRange. Returns a promise only when the transform or its validator is
   * asynchronous; the record is counted once it has settled.
   */
  #transformRecord(
    ring: Ring,
    at: number,
    stage: TransformStage,
    parseWhole: boolean,
    takenAt: number,
    out: SinkRecord[],
    letters: DeadLetter[],
    enqueuedAt: number[],
    result: BatchResult,
  ): Promise<void> | undefined {
    const bytes = ring.bytes;
    const view = readRecord(ring, at, false);
    result.queueWaitMsSum += Math.max(0, takenAt - view.enqueuedAt);
    const start = view.payloadOffset;
    const end = start + view.payloadLength;
    const text = payloadText(ring, view);
    let event: DecodedEvent | undefined;
    let fields: EventFields | undefined;
    try {
      if (parseWhole) event = decodeParsed(this.#scanner, view, text, this.#maxDepth, bytes, start, end);
      else fields = decodeFields(this.#scanner, bytes, start, end, view, this.#maxDepth);
    } catch (error) {
      letters.push(undecodable({ ...view, id: recordId(ring, view) }, text, error));
      return undefined;
    }
    let lazy: LazyPayload | undefined;
    if (event === undefined) {
      // Checked by decodeFields: parses.
      const opened = eventPayload(stage, text);
      event = withPayload(fields!, opened.payload);
      lazy = opened.lazy;
    }
    const before = out.length;
    const lettersBefore = letters.length;
    const enqueued = view.enqueuedAt;
    const pending = transformEvent(stage, event, text, out, letters, lazy);
    if (pending)
      return pending.then(() =>
        countOutputs(out, before, letters, lettersBefore, enqueuedAt, enqueued, result),
      );
    countOutputs(out, before, letters, lettersBefore, enqueuedAt, enqueued, result);
    return undefined;
  }

  async #deliverRange(
    task: RunningBatch,
    sinks: OpenedSinks,
    stage: TransformStage,
    result: BatchResult,
    tally: BatchTally,
    trace: Context,
    copy: RangeCopy | undefined,
  ): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    // Made with the elements kind they will hold (V8: a `[]` starts as small integers and changes
    // kind at its first push): a fresh `[]` deoptimised the range walk at its first record, the
    // object pushed into `out` ("not a Smi") and the fractional time into `enqueuedAt` ("lost
    // precision"), each a recompilation of the method in each worker (`--trace-deopt`).
    const out = emptyObjectList<SinkRecord>(NO_RECORD);
    const enqueuedAt: number[] = [0.5];
    enqueuedAt.length = 0;
    const offsets = recordOffsets(ring, task.start, task.end);
    const transformSpan = startChildSpan('sluice.transform', trace);
    const takenAt = wallClockMs();
    const transformStarted = performance.now();
    // Each way through the range in a method of its own: only the one a pipeline takes is
    // optimised, and its compilation does not carry the other's code.
    if (copy) this.#copyRange(ring, offsets, copy, takenAt, out, letters, enqueuedAt, result);
    else await this.#transformRange(ring, offsets, stage, takenAt, out, letters, enqueuedAt, result);
    transformSpan.end();
    const lettersBeforeRouting = letters.length;
    const shares = this.#share(out, enqueuedAt, letters);
    result.decodeTransformMs = performance.now() - transformStarted;
    // Records some route took (the rest became unknown-route letters).
    const routed = out.length - (letters.length - lettersBeforeRouting);
    const carried = task.retry;
    const done: Record<string, RouteDone> = { ...carried?.done };
    const names = this.#routes.names;
    const writeSpan =
      out.length > 0
        ? startChildSpan('sluice.sink.write', trace, { 'sluice.records': out.length })
        : undefined;
    // Every route at once: a slow route does not delay the others' writes, only the range's release.
    const outcomes = await Promise.all(
      shares.map((share, i) =>
        share.records.length === 0 || done[names[i]!] !== undefined
          ? undefined
          : this.#deliverRoute(i, share, sinks, task, tally, result),
      ),
    );
    const routes: Record<string, RetryState> = {};
    let failure: RouteFailure | undefined;
    let attempts = 0;
    let firstFailureAt = Number.POSITIVE_INFINITY;
    outcomes.forEach((outcome, i) => {
      if (outcome === undefined) return;
      if ('written' in outcome) {
        done[names[i]!] = outcome;
        return;
      }
      const name = names[i]!;
      const error = this.#routes.single ? outcome.error : `route ${name}: ${outcome.error}`;
      if (outcome.retry) {
        routes[name] = outcome.retry;
        attempts = Math.max(attempts, outcome.retry.attempts);
        firstFailureAt = Math.min(firstFailureAt, outcome.retry.firstFailureAt);
      }
      // The earliest retry of the failing routes is when the range is dispatched again; a letter
      // refused outright (isolate) splits the range whatever the other routes do.
      failure = {
        error: failure ? `${failure.error}; ${error}` : error,
        isolate: (failure?.isolate ?? false) || outcome.isolate,
        retryInMs:
          failure?.retryInMs === undefined
            ? outcome.retryInMs
            : outcome.retryInMs === undefined
              ? failure.retryInMs
              : Math.min(failure.retryInMs, outcome.retryInMs),
      };
    });
    if (writeSpan) endSpan(writeSpan, failure?.error);
    if (failure) {
      // A route is still failing: hand the range back to be held in the ring and dispatched again
      // after the backoff, with each failing route's retries and what the others did carried along.
      const retry: RangeRetry = {
        attempts,
        firstFailureAt: Number.isFinite(firstFailureAt) ? firstFailureAt : wallClockMs(),
        routes,
        done,
      };
      return { ...result, ok: false, ...failure, retry };
    }
    // `written` counts events, once each however many routes took them: those every route they
    // went to wrote (what a route refused is a dead letter, counted by reason). Each route's own
    // writes are counted by route.
    const refused = new Set<string>();
    for (const [name, route] of Object.entries(done)) {
      result.writtenByRoute[names.indexOf(name)] = route.written;
      for (const id of route.refused) refused.add(id);
      for (const [reason, n] of Object.entries(route.deadLettered) as [DeadLetterReason, number][])
        result.deadLettered[reason] = (result.deadLettered[reason] ?? 0) + n;
    }
    result.written = this.#routes.single
      ? (done[names[0]!]?.written ?? 0)
      : Math.max(0, routed - refused.size);
    return this.#finish(sinks, letters, result, task, done);
  }

  /**
   * Each route's share of a batch's records: the routes each record goes to (RouteTable), a record
   * that goes to several in each of their shares. A record no route takes becomes an
   * `unknown-route` dead letter.
   */
  #share(out: SinkRecord[], enqueuedAt: number[], letters: DeadLetter[]): RouteShare[] {
    // One route takes everything, unless an output names a route: a name it does not have is an
    // unknown-route dead letter, as with several routes.
    if (this.#routes.single && !out.some((record) => record.route !== undefined)) {
      return [{ records: out, enqueuedAt }];
    }
    const shares: RouteShare[] = this.#routes.names.map(() => ({ records: [], enqueuedAt: [] }));
    routeEach(this.#routes, out, letters, (k, route) => {
      shares[route]!.records.push(out[k]!);
      shares[route]!.enqueuedAt.push(enqueuedAt[k]!);
    });
    return shares;
  }

  /**
   * Writes one route's share to its sink with its retries, then what the sink refused to the
   * route's dead-letter sink. Counts its attempts into `result` as they happened; the records it
   * wrote and dead-lettered in the outcome, once both are done.
   */
  async #deliverRoute(
    index: number,
    share: RouteShare,
    sinks: OpenedSinks,
    task: RunningBatch,
    tally: BatchTally,
    result: BatchResult,
  ): Promise<RouteDone | RouteFailureOutcome> {
    const name = this.#routes.names[index]!;
    const opened = sinks.routes[index]!;
    const report = await deliverBatch(
      opened.sink,
      share.records,
      this.#routeRetry[index]!,
      this.#routeHooks[index]!,
      { carried: task.retry?.routes[name], yieldAt: task.yieldAt },
    );
    result.retries += report.retries;
    result.retryableErrors += report.retryableErrors;
    result.permanentErrors += report.permanentErrors;
    result.writeMs += report.writeMs;
    if (report.held) {
      const { attempts, firstFailureAt, retryInMs, error } = report.held;
      return {
        error: `sink still failing after ${attempts} attempts: ${describeError(error)}`,
        retry: { attempts, firstFailureAt },
        retryInMs,
        isolate: false,
      };
    }
    const ackedAt = wallClockMs();
    // Latency over every record of the share; those that were dead-lettered are a handful at most.
    for (const t of share.enqueuedAt) {
      const latency = ackedAt - t;
      tally.observeLatencySeconds(latency / 1000);
      result.latencySumMs += latency;
      if (latency > result.latencyMaxMs) result.latencyMaxMs = latency;
    }
    const deadLettered: RouteDone['deadLettered'] = {};
    const refused: string[] = [];
    if (report.deadLetters.length > 0) {
      const letters = report.deadLetters;
      if (!this.#routes.single) for (const letter of letters) letter.route = name;
      const written = await writeDeadLetters(
        opened.deadLetter,
        letters,
        this.#routeLettersRetry[index]!,
        this.#log,
        task.yieldAt,
        this.#routeLetterHooks[index]!,
      );
      if (!written.ok) {
        this.#log.error({ events: letters.length, error: written.error }, 'dead-letter sink failed');
        return {
          error: `dead-letter sink failed: ${written.error}`,
          isolate: written.isolate,
          retryInMs: written.retryInMs,
        };
      }
      this.#logLetters(letters);
      for (const letter of letters) {
        deadLettered[letter.reason] = (deadLettered[letter.reason] ?? 0) + 1;
        refused.push(letter.event.id);
      }
    }
    return { written: report.written, deadLettered, refused };
  }

  /** One log line for dead-lettered events: how many, why, and the first ids. */
  #logLetters(letters: readonly DeadLetter[]): void {
    const reasons: Record<string, number> = {};
    for (const letter of letters) reasons[letter.reason] = (reasons[letter.reason] ?? 0) + 1;
    this.#log.warn(
      {
        events: letters.length,
        reasons,
        ids: letters.slice(0, LOGGED_IDS).map((l) => l.event.id),
        ...(letters[0]?.route === undefined ? {} : { route: letters[0].route }),
      },
      'events dead-lettered',
    );
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
      const raw = payloadText(ring, view);
      const { id, key, source, ts } = this.#letterFields(view, raw);
      letters.push(deadLetter({ id, key, source, ts, raw }, task.reason, task.error, task.attempts));
    });
    return this.#finish(sinks, letters, result, task);
  }

  /**
   * The id, key, source and time a record's letter is filed under: a raw record's own, as its line
   * gives them (decodeFields) — the ring holds only the fallbacks for a line without them (a file
   * offset, a broker's message id), and an event must be found by its own id in the dead letters as
   * in the sink. The ring's, when the line gives none or cannot be read.
   */
  #letterFields(view: ReturnType<typeof readRecord>, text: string): EventFields {
    if (!view.raw || view.refused) return view;
    try {
      // The ring's id decoded already (readRecord): no offset into the ring is read here.
      const fields = { id: view.id, key: view.key, source: view.source, ts: view.ts, raw: true };
      const bytes = Buffer.from(text, 'utf8');
      return decodeFields(this.#scanner, bytes, 0, bytes.length, fields, this.#maxDepth);
    } catch {
      return view;
    }
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
    done?: Record<string, RouteDone>,
  ): Promise<BatchResult> {
    if (letters.length === 0) return result;
    const written = await writeDeadLetters(
      sinks.deadLetter,
      letters,
      this.#deadLetterRetry,
      this.#log,
      task.yieldAt,
      this.#pipelineLetterHooks,
    );
    if (!written.ok) {
      this.#log.error({ events: letters.length, error: written.error }, 'dead-letter sink failed');
      // What the routes wrote stays written: carried, so the next dispatch does not write it again.
      const retry: RangeRetry | undefined =
        done === undefined || Object.keys(done).length === 0
          ? undefined
          : { attempts: 0, firstFailureAt: wallClockMs(), routes: {}, done };
      return {
        ...result,
        ok: false,
        error: `dead-letter sink failed: ${written.error}`,
        isolate: written.isolate,
        retryInMs: written.retryInMs,
        ...(retry ? { retry } : {}),
      };
    }
    this.#logLetters(letters);
    for (const letter of letters)
      result.deadLettered[letter.reason] = (result.deadLettered[letter.reason] ?? 0) + 1;
    return result;
  }
}

/** One route's share of a batch: its records, and when each was pushed. */
interface RouteShare {
  records: SinkRecord[];
  enqueuedAt: number[];
}

/** Why a range must be dispatched again, and when. */
interface RouteFailure {
  error: string;
  isolate: boolean;
  retryInMs: number | undefined;
}

/** A route that could not finish its share: its sink still failing (with its retries), or its dead-letter sink. */
interface RouteFailureOutcome extends RouteFailure {
  retry?: RetryState;
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
    // Fractional sums and times, started as doubles (-0: a literal 0 is a small integer): a field
    // that changes from one to the other changes the object's map, and code optimised for the
    // first map is thrown away ("wrong map" in the range walk).
    writeMs: -0,
    latencySumMs: -0,
    latencyMaxMs: -0,
    queueWaitMsSum: -0,
    decodeTransformMs: -0,
    writtenByRoute: [],
    threadId,
  };
}
