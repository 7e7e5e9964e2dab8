import { threadId } from 'node:worker_threads';
import { describeError } from '../delivery/dead-letter.js';
import { SinkError, sluiceCodeOf } from '../errors.js';
import {
  M_DEAD_LETTER_SINK_FAILING_SINCE_MS,
  R_DEAD_LETTER_FAILING_SINCE_MS,
  R_SINK_FAILING_SINCE_MS,
  routeSlot,
} from '../metrics/metrics-block.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import { sinkName } from '../sinks/sink-name.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import type { WorkerSetup } from './batch-task.js';

/** Built-in sinks write `payloadJson` and read `payload` only if asked: they can take TextRecords. */
const TEXT_SINKS = new Set(['null', 'ndjson', 'sqlite', 'postgres', 'nats-jetstream', 'redis-streams']);

/**
 * Whether the sink `spec` builds writes JSON text only (see TransformStage.textSink): a built-in
 * one, or a module that says so (`writesText`).
 */
export function writesTextOnly(spec: ResolvedSinkSpec): boolean {
  return 'type' in spec ? TEXT_SINKS.has(spec.type) : spec.writesText === true;
}

/**
 * Whether the sink `spec` builds copies each record's payload as JSON bytes, untouched: the
 * PostgreSQL sink's own table (binary COPY; a mapped table reads members out of the text instead).
 * Such a sink is handed payloads written as bytes (PayloadArena) rather than strings.
 */
export function copiesPayloadBytes(spec: ResolvedSinkSpec): boolean {
  return 'type' in spec && spec.type === 'postgres' && spec.columns === undefined;
}

/** A route's sinks, open: its dead-letter sink is the pipeline's unless it has its own. */
export interface OpenedRoute {
  sink: Sink;
  deadLetter: Sink;
}

/** A worker's sinks, all open: each route's, and the pipeline's dead-letter sink. */
export interface OpenedSinks {
  routes: OpenedRoute[];
  deadLetter: Sink;
}

/**
 * A worker's sinks — every route's sink and own dead-letter sink, and the pipeline's dead-letter
 * sink: opened on the first batch that needs them, and again after a failure.
 */
export class WorkerSinks {
  readonly #setup: WorkerSetup;
  #opened: Promise<OpenedSinks> | undefined;
  #failedSlot: number | undefined;

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
  }

  /** The open sinks; rejects (a SinkError, or the sink's own SluiceError) when one cannot open. */
  open(): Promise<OpenedSinks> {
    if (!this.#opened) {
      const { routes, deadLetter } = this.#setup.options;
      const locks = this.#setup.writerLocks;
      this.#opened = (async () => {
        const opened: OpenedSinks = {
          routes: [],
          deadLetter: await this.#openOne(
            deadLetter,
            'deadLetter',
            locks.deadLetter,
            M_DEAD_LETTER_SINK_FAILING_SINCE_MS,
          ),
        };
        try {
          const entries = Object.entries(routes);
          // Named in errors only when there are several: one route is just "sink".
          const named = entries.length > 1;
          for (const [i, [name, route]] of entries.entries()) {
            const sink = await this.#openOne(
              route.sink,
              'sink',
              locks.routes[i]!.sink,
              routeSlot(i, R_SINK_FAILING_SINCE_MS),
              named ? `route ${name} sink` : 'sink',
            );
            opened.routes.push({ sink, deadLetter: opened.deadLetter });
            if (route.deadLetter !== undefined)
              opened.routes[i]!.deadLetter = await this.#openOne(
                route.deadLetter,
                'deadLetter',
                locks.routes[i]!.deadLetter,
                routeSlot(i, R_DEAD_LETTER_FAILING_SINCE_MS),
                `route ${name} deadLetter`,
              );
          }
        } catch (error) {
          // What did open is closed again: the next batch opens everything anew.
          await closeAll(opened);
          throw error;
        }
        return opened;
      })();
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
    if (opened) await closeAll(opened);
  }

  /**
   * The metrics slot (since when it fails) of the sink that failed to open last, until the sinks
   * open.
   */
  get failedSlot(): number | undefined {
    return this.#failedSlot;
  }

  async #openOne(
    spec: ResolvedSinkSpec,
    role: 'sink' | 'deadLetter',
    writerLock: SharedArrayBuffer | undefined,
    slot: number,
    label: string = role,
  ): Promise<Sink> {
    try {
      const built = await createSink(spec, {
        threadId,
        role,
        ordering: this.#setup.options.ordering,
        writerLock,
      });
      await built.open();
      if (this.#failedSlot === slot) this.#failedSlot = undefined;
      return built;
    } catch (error) {
      this.#failedSlot = slot;
      // Whatever a sink throws (SQLite's own errors, a missing module) is a SinkError with its
      // code by the time it reaches createPipeline() or a deferred batch's log line.
      if (sluiceCodeOf(error) !== undefined) throw error;
      throw new SinkError(`${label} ${sinkName(spec)} cannot be opened: ${describeError(error)}`, {
        retryable: true,
        cause: error,
      });
    }
  }
}

async function closeAll(opened: OpenedSinks): Promise<void> {
  const sinks = new Set<Sink>([opened.deadLetter]);
  for (const route of opened.routes) sinks.add(route.sink).add(route.deadLetter);
  await Promise.allSettled([...sinks].map((sink) => sink.close()));
}
