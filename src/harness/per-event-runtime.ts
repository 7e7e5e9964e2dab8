import { threadId } from 'node:worker_threads';
import { DEFAULT_MAX_DEPTH, decodeEvent, LINE_FIELDS } from '../codec/decode-event.js';
import type { DecodedEvent, SinkRecord, SluiceEvent } from '../codec/event.js';
import { type DeadLetter, deadLetter, deadLetterRecord } from '../delivery/dead-letter.js';
import { deliverBatch } from '../delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { applyTransform } from '../transforms/apply-transform.js';
import { type LoadedTransform, loadTransform } from '../transforms/transform.js';

export interface PerEventSetup {
  transform: string;
  sink: ResolvedSinkSpec;
  deadLetter: ResolvedSinkSpec;
  /** Resolved on the main thread, as the engine's workers receive theirs. */
  retry: ResolvedRetryOptions;
}

/** The piscina-per-event baseline's worker: one event per task, one single-record sink write. */
export class PerEventRuntime {
  readonly #ready: Promise<{
    transform: LoadedTransform;
    sink: Sink;
    deadLetter: Sink;
    retry: ResolvedRetryOptions;
  }>;

  constructor(setup: PerEventSetup) {
    this.#ready = (async () => {
      const context = { threadId, ordering: 'none' as const };
      const sink = await createSink(setup.sink, { ...context, role: 'sink' });
      const deadLetter = await createSink(setup.deadLetter, { ...context, role: 'deadLetter' });
      await sink.open();
      await deadLetter.open();
      return {
        transform: await loadTransform(setup.transform, { threadId }),
        sink,
        deadLetter,
        retry: setup.retry,
      };
    })();
  }

  async run(item: SluiceEvent | string): Promise<number> {
    const { transform, sink, deadLetter: dlq, retry } = await this.#ready;
    const out: SinkRecord[] = [];
    const letters: DeadLetter[] = [];
    let event: DecodedEvent | undefined;
    if (typeof item === 'string') {
      try {
        event = decodeEvent(LINE_FIELDS, item, DEFAULT_MAX_DEPTH);
      } catch (error) {
        letters.push(deadLetter({ id: '', payload: item }, 'invalid-json', error));
      }
    } else event = item as DecodedEvent;
    if (event) {
      const pending = applyTransform(transform, event, out, letters);
      if (pending) await pending;
    }
    if (out.length > 0) letters.push(...(await deliverBatch(sink, out, retry)).deadLetters);
    if (letters.length > 0) await deliverBatch(dlq, letters.map(deadLetterRecord), retry);
    return out.length;
  }
}
