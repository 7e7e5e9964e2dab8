import { threadId } from 'node:worker_threads';
import type { DecodedEvent } from '../codec/event.js';
import { payloadText, readRecord, wallClockMs } from '../codec/record-codec.js';
import {
  type DeadLetter,
  type DeadLetterReason,
  deadLetter,
  deadLetterRecord,
  describeError,
} from '../delivery/dead-letter.js';
import { deliverBatch } from '../delivery/deliver-batch.js';
import { EventQueue } from '../queue/event-queue.js';
import { forEachRecord } from '../queue/ring-reader.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink, SinkRecord } from '../sinks/sink.js';
import { type LoadedTransform, loadTransform, type TransformOutput } from '../transforms/transform.js';
import type { BatchResult, BatchTask, WorkerSetup } from './batch-task.js';

interface Opened {
  sink: Sink;
  deadLetter: Sink;
}

const MAX_ID_LENGTH = 255;

/**
 * Everything a worker thread does, kept out of `workers/` so it can be tested and profiled like
 * the rest of `src/`: attach to the rings, load the transform, open the sinks (lazily, and again
 * after a failure), and turn a batch descriptor into sink writes and dead letters.
 */
export class WorkerRuntime {
  readonly #setup: WorkerSetup;
  readonly #queue: EventQueue;
  readonly #transform: Promise<LoadedTransform>;
  #sinks: Promise<Opened> | undefined;

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
    this.#queue = EventQueue.attach(setup.queue);
    this.#transform = loadTransform(setup.options.transform, { threadId });
    // Reported through the first task that needs it; this only avoids an unhandled rejection.
    this.#transform.catch(() => {});
  }

  async run(task: BatchTask): Promise<BatchResult> {
    const result = emptyResult(task.records);
    if (task.kind === 'ping') {
      await this.#transform;
      return result;
    }
    let sinks: Opened;
    try {
      sinks = await this.#openSinks();
    } catch (error) {
      return { ...result, ok: false, error: `cannot open sinks: ${describeError(error)}` };
    }
    return task.kind === 'dead-letter'
      ? this.#deadLetterRange(task, sinks, result)
      : this.#deliverRange(task, sinks, await this.#transform, result);
  }

  /** Closes the sinks this worker opened (on pipeline shutdown). */
  async close(): Promise<void> {
    const sinks = this.#sinks;
    this.#sinks = undefined;
    if (!sinks) return;
    const opened = await sinks.catch(() => undefined);
    await Promise.allSettled([opened?.sink.close(), opened?.deadLetter.close()]);
  }

  #openSinks(): Promise<Opened> {
    if (!this.#sinks) {
      const { sink, deadLetter, ordering } = this.#setup.options;
      this.#sinks = (async () => {
        const opened = {
          sink: await createSink(sink, { threadId, role: 'sink', ordering }),
          deadLetter: await createSink(deadLetter, { threadId, role: 'deadLetter', ordering }),
        };
        await opened.sink.open();
        await opened.deadLetter.open();
        return opened;
      })();
      // A failed open is tried again by the next batch (the sink may come back).
      this.#sinks.catch(() => {
        this.#sinks = undefined;
      });
    }
    return this.#sinks;
  }

  async #deliverRange(
    task: BatchTask,
    sinks: Opened,
    transform: LoadedTransform,
    result: BatchResult,
  ): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    const out: SinkRecord[] = [];
    const enqueuedAt: number[] = [];
    const offsets: number[] = [];
    forEachRecord(ring, task.start, task.end, (at) => offsets.push(at));
    for (const at of offsets) {
      const view = readRecord(ring, at);
      let event: DecodedEvent;
      try {
        event = decodeEvent(view.raw, view.id, view.key, view.source, view.ts, payloadText(ring, view));
      } catch (error) {
        letters.push(
          deadLetter(
            { id: view.id, key: view.key, payload: payloadText(ring, view) },
            view.raw ? 'invalid-json' : 'invalid-event',
            error,
          ),
        );
        continue;
      }
      if (transform.validate) {
        const reason = await runValidate(transform.validate, event);
        if (reason !== undefined) {
          letters.push(deadLetter(event, 'validation-failed', reason));
          continue;
        }
      }
      let output: TransformOutput;
      try {
        const mapped = transform.map(event);
        // Only asynchronous transforms pay for an await.
        output = mapped instanceof Promise ? await mapped : mapped;
      } catch (error) {
        letters.push(deadLetter(event, 'transform-error', error));
        continue;
      }
      const before = out.length;
      const bad = collectOutputs(event, output, out);
      if (bad !== undefined) {
        out.length = before;
        letters.push(deadLetter(event, 'invalid-transform-output', bad));
        continue;
      }
      if (out.length === before) result.filtered++;
      for (let i = before; i < out.length; i++) enqueuedAt.push(view.enqueuedAt);
    }
    if (out.length > 0) {
      const report = await deliverBatch(sinks.sink, out, this.#setup.options.retry);
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
        result.latencySumMs += latency;
        if (latency > result.latencyMaxMs) result.latencyMaxMs = latency;
      }
    }
    return this.#finish(sinks, letters, result);
  }

  async #deadLetterRange(task: BatchTask, sinks: Opened, result: BatchResult): Promise<BatchResult> {
    const ring = this.#queue.rings[task.partition]!;
    const letters: DeadLetter[] = [];
    forEachRecord(ring, task.start, task.end, (at) => {
      const view = readRecord(ring, at);
      letters.push(
        deadLetter(
          { id: view.id, key: view.key, source: view.source, ts: view.ts, payload: payloadText(ring, view) },
          task.reason ?? 'worker-crash',
          task.error ?? 'unknown',
          task.attempts ?? 1,
        ),
      );
    });
    return this.#finish(sinks, letters, result);
  }

  /** Writes dead letters; if even that fails, the whole batch stays unacknowledged. */
  async #finish(sinks: Opened, letters: DeadLetter[], result: BatchResult): Promise<BatchResult> {
    if (letters.length === 0) return result;
    const report = await deliverBatch(
      sinks.deadLetter,
      letters.map(deadLetterRecord),
      this.#setup.options.retry,
    );
    if (report.deadLetters.length > 0) {
      return { ...result, ok: false, error: `dead-letter sink failed: ${report.deadLetters[0]!.lastError}` };
    }
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

/**
 * An encoded record becomes the event it was; a raw record (pushRaw) is parsed here, off the main
 * thread: the parsed line is the payload, and its own `id`, `key`, `source`, `ts` fields are used
 * when valid.
 */
function decodeEvent(
  raw: boolean,
  id: string,
  key: string | undefined,
  source: string | undefined,
  ts: number | undefined,
  text: string,
): DecodedEvent {
  const payload: unknown = JSON.parse(text);
  if (!raw) return { id, key, source, ts, payload };
  const event: DecodedEvent = { id, key, source, ts, payload };
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const line = payload as Record<string, unknown>;
    if (typeof line.id === 'string' && line.id.length > 0 && line.id.length <= MAX_ID_LENGTH)
      event.id = line.id;
    if (typeof line.key === 'string' && key === undefined) event.key = line.key;
    if (typeof line.source === 'string') event.source = line.source;
    if (typeof line.ts === 'number' && Number.isFinite(line.ts)) event.ts = line.ts;
  }
  return event;
}

async function runValidate(
  validate: NonNullable<LoadedTransform['validate']>,
  event: DecodedEvent,
): Promise<string | undefined> {
  try {
    const verdict = await validate(event);
    if (verdict === true || verdict === undefined) return undefined;
    return verdict === false ? 'validate returned false' : String(verdict);
  } catch (error) {
    return describeError(error);
  }
}

/**
 * Appends a transform's output to `out` as sink records; returns a description of what is wrong
 * when the output is not events. Outputs without an id inherit the input's, `id:k` for the k-th of
 * several, so a batch processed twice yields the same ids.
 */
function collectOutputs(input: DecodedEvent, output: TransformOutput, out: SinkRecord[]): string | undefined {
  if (output === null || output === undefined) return undefined;
  const list = Array.isArray(output) ? output : [output];
  for (let k = 0; k < list.length; k++) {
    const item = list[k] as unknown;
    if (
      item === null ||
      typeof item !== 'object' ||
      !('payload' in item) ||
      (item as { payload: unknown }).payload === undefined
    ) {
      return `transform output ${k} is not an event with a payload: ${describeValue(item)}`;
    }
    const e = item as { id?: unknown; key?: unknown; source?: unknown; ts?: unknown; payload: unknown };
    const id =
      typeof e.id === 'string' && e.id.length > 0 ? e.id : list.length === 1 ? input.id : `${input.id}:${k}`;
    out.push({
      id,
      key: typeof e.key === 'string' ? e.key : input.key,
      source: typeof e.source === 'string' ? e.source : input.source,
      ts: typeof e.ts === 'number' ? e.ts : input.ts,
      payload: e.payload,
    });
  }
  return undefined;
}

function describeValue(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 200);
  } catch {
    return String(value);
  }
}

export type { DeadLetterReason };
