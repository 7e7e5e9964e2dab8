import { threadId } from 'node:worker_threads';
import { pino } from 'pino';
import type { SluiceEvent } from '../codec/event.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import { deadLetterRetry, type OneThreadPath, runEventPath } from '../engine/event-path.js';
import { writesTextOnly } from '../engine/worker-sinks.js';
import { createSink } from '../sinks/create-sink.js';
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
  readonly #ready: Promise<OneThreadPath>;

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
        log: silent,
      };
    })();
  }

  async run(item: SluiceEvent | string): Promise<number> {
    return runEventPath([item], await this.#ready);
  }
}
