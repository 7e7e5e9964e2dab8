import { threadId } from 'node:worker_threads';
import { describeError } from '../delivery/dead-letter.js';
import { SinkError, sluiceCodeOf } from '../errors.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import { sinkName } from '../sinks/sink-name.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import type { WorkerSetup } from './batch-task.js';

/** Built-in sinks write `payloadJson` and read `payload` only if asked: they can take TextRecords. */
const TEXT_SINKS = new Set(['null', 'ndjson', 'sqlite', 'postgres', 'nats-jetstream', 'redis-streams']);

/** Whether the sink `spec` builds writes JSON text only (see TransformStage.textSink). */
export function writesTextOnly(spec: ResolvedSinkSpec): boolean {
  return 'type' in spec && TEXT_SINKS.has(spec.type);
}

/** A worker's sink and dead-letter sink, both open. */
export interface OpenedSinks {
  sink: Sink;
  deadLetter: Sink;
}

/** A worker's two sinks: opened on the first batch that needs them, and again after a failure. */
export class WorkerSinks {
  readonly #setup: WorkerSetup;
  #opened: Promise<OpenedSinks> | undefined;
  #failedRole: 'sink' | 'deadLetter' | undefined;

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
  }

  /** The open sinks; rejects (a SinkError, or the sink's own SluiceError) when one cannot open. */
  open(): Promise<OpenedSinks> {
    if (!this.#opened) {
      const { sink, deadLetter } = this.#setup.options;
      const locks = this.#setup.writerLocks;
      this.#opened = (async () => ({
        sink: await this.#openOne(sink, 'sink', locks.sink),
        deadLetter: await this.#openOne(deadLetter, 'deadLetter', locks.deadLetter),
      }))();
      // A failed open is tried again by the next batch (the sink may come back).
      this.#opened.catch(() => {
        this.#opened = undefined;
      });
    }
    return this.#opened;
  }

  /** Closes the sinks this worker opened (on pipeline shutdown). */
  async close(): Promise<void> {
    const opening = this.#opened;
    this.#opened = undefined;
    if (!opening) return;
    const opened = await opening.catch(() => undefined);
    await Promise.allSettled([opened?.sink.close(), opened?.deadLetter.close()]);
  }

  /** The role of the sink that failed to open last, until the sinks open. */
  get failedRole(): 'sink' | 'deadLetter' | undefined {
    return this.#failedRole;
  }

  async #openOne(
    spec: ResolvedSinkSpec,
    role: 'sink' | 'deadLetter',
    writerLock: SharedArrayBuffer | undefined,
  ): Promise<Sink> {
    try {
      const built = await createSink(spec, {
        threadId,
        role,
        ordering: this.#setup.options.ordering,
        writerLock,
      });
      await built.open();
      if (this.#failedRole === role) this.#failedRole = undefined;
      return built;
    } catch (error) {
      this.#failedRole = role;
      // Whatever a sink throws (SQLite's own errors, a missing module) is a SinkError with its
      // code by the time it reaches createPipeline() or a deferred batch's log line.
      if (sluiceCodeOf(error) !== undefined) throw error;
      throw new SinkError(`${role} ${sinkName(spec)} cannot be opened: ${describeError(error)}`, {
        retryable: true,
        cause: error,
      });
    }
  }
}
