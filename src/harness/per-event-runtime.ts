import { threadId } from 'node:worker_threads';
import { pino } from 'pino';
import { DEFAULT_MAX_DEPTH, decodeEvent, LINE_FIELDS } from '../codec/decode-event.js';
import type { DecodedEvent, SinkRecord, SluiceEvent } from '../codec/event.js';
import type { DeadLetter } from '../delivery/dead-letter.js';
import { deliverBatch } from '../delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import {
  deadLetterRetry,
  type TransformStage,
  transformEvent,
  undecodable,
  writeDeadLetters,
} from '../engine/event-path.js';
import { writesTextOnly } from '../engine/worker-sinks.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { loadTransform } from '../transforms/transform.js';

export interface PerEventSetup {
  transform: string;
  sink: ResolvedSinkSpec;
  deadLetter: ResolvedSinkSpec;
  /** Resolved on the main thread, as the engine's workers receive theirs. */
  retry: ResolvedRetryOptions;
}

const silent = pino({ enabled: false });

/**
 * The piscina-per-event baseline's worker: one event per task, one single-record sink write, each
 * through the engine's own event path (src/engine/event-path.ts).
 */
export class PerEventRuntime {
  readonly #ready: Promise<{
    stage: TransformStage;
    sink: Sink;
    deadLetter: Sink;
    retry: ResolvedRetryOptions;
    lettersRetry: ResolvedRetryOptions;
  }>;

  constructor(setup: PerEventSetup) {
    this.#ready = (async () => {
      const context = { threadId, ordering: 'none' as const };
      const sink = await createSink(setup.sink, { ...context, role: 'sink' });
      const deadLetter = await createSink(setup.deadLetter, { ...context, role: 'deadLetter' });
      await sink.open();
      await deadLetter.open();
      return {
        stage: {
          transform: await loadTransform(setup.transform, { threadId }),
          textSink: writesTextOnly(setup.sink),
        },
        sink,
        deadLetter,
        retry: setup.retry,
        lettersRetry: deadLetterRetry(setup.retry),
      };
    })();
  }

  async run(item: SluiceEvent | string): Promise<number> {
    const { stage, sink, deadLetter, retry, lettersRetry } = await this.#ready;
    const out: SinkRecord[] = [];
    const letters: DeadLetter[] = [];
    let event: DecodedEvent | undefined;
    let text: string | undefined;
    if (typeof item === 'string') {
      try {
        event = decodeEvent(LINE_FIELDS, item, DEFAULT_MAX_DEPTH);
        // A line is its event's payload, as a raw record's text is in the engine.
        text = item;
      } catch (error) {
        letters.push(undecodable(LINE_FIELDS, item, error));
      }
    } else event = item as DecodedEvent;
    if (event) {
      const pending = transformEvent(stage, event, text, out, letters);
      if (pending) await pending;
    }
    if (out.length > 0) letters.push(...(await deliverBatch(sink, out, retry)).deadLetters);
    if (letters.length > 0) await writeDeadLetters(deadLetter, letters, lettersRetry, silent);
    return out.length;
  }
}
