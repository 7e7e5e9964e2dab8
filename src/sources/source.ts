import type { Logger } from 'pino';
import type { SluiceEvent } from '../codec/event.js';
import { InvalidOptionError } from '../errors.js';
import type { QueueStats } from '../queue/event-queue.js';
import type { RawRecord } from '../queue/producer.js';
import type { ResolvedQueueOptions } from '../queue/queue-options.js';
import type { LineBatch } from '../queue/record-run.js';

/**
 * What a source may call on the pipeline it feeds (a Pipeline is one): the push API, the logger,
 * and — for sources that answer their clients (HTTP: 429 when full, ?ack=sink) or acknowledge a
 * broker — the rings' room, the queue's options, and settled().
 */
export interface SourceTarget {
  /** Resolves once the event is in the ring (false: a drop policy discarded it); waits while full. */
  push(event: SluiceEvent): Promise<boolean>;
  /** Pushes events as few publish groups; resolves with how many were accepted. */
  pushMany(events: readonly SluiceEvent[]): Promise<number>;
  /** Pushes one serialised event (an NDJSON line); parsed in a worker, never on this thread. */
  pushRaw(bytes: Uint8Array | string, key?: string): Promise<boolean>;
  /** Pushes serialised events as few publish groups; resolves with how many were accepted. */
  pushRawMany(lines: readonly (Uint8Array | string)[], key?: string): Promise<number>;
  /** Pushes serialised events, each with its own id and source; resolves with how many were accepted. */
  pushRawRecords(records: readonly RawRecord[]): Promise<number>;
  /** Pushes lines lying in one buffer without an object per line (see LineBatch). */
  pushLines(batch: LineBatch): Promise<number>;
  /** The pipeline's logger: one structured line per happening. */
  readonly logger: Logger;
  /**
   * Each partition's ring now, and with a disk queue its log's backlog: how full they are (HTTP
   * waits for room rather than on a full queue).
   */
  stats(): { readonly partitions: readonly QueueStats[]; readonly disk?: { readonly backlogBytes: number } };
  /** Resolves once every event this thread pushed before the call is written or dead-lettered. */
  settled(): Promise<void>;
  /** The queue's size, partitions, full-ring policy and largest record. */
  readonly options: { readonly queue: ResolvedQueueOptions };
}

/**
 * Where a broker source stands with its broker: what waits in the stream for this group, what the
 * group has read and not acknowledged (all its processes), and what this process holds (read,
 * pushed, not yet written). Undefined where the broker does not say.
 */
export interface SourceHealth {
  /** The source's kind: `nats-jetstream`, `redis-streams`. */
  source: string;
  /** Messages in the stream not yet delivered to the consumer group or durable: the lag. */
  waiting: number | undefined;
  /** Messages delivered to the group and not yet acknowledged, by any of its processes. */
  unacked: number | undefined;
  /** Messages this process read and holds unacknowledged until their events are written. */
  held: number;
  /** Wall-clock ms when the broker was asked. */
  at: number;
  /** Why the broker could not be asked, the last time it was tried. */
  error?: string;
}

/** Something that produces events into a pipeline until it is exhausted or stopped. */
export interface Source {
  /** Pushes into `target` until exhausted (resolves) or `signal` aborts (resolves soon after); rejects on a read error. */
  start(target: SourceTarget, signal: AbortSignal): Promise<void>;
  /**
   * Stops pushing: resolves once the source starts no new push. A push still waiting for room is
   * settled by the pipeline's close — accepted, or refused with SLUICE_CLOSED (a broker source
   * then leaves its messages unacknowledged).
   */
  stop(): Promise<void>;
  /**
   * Called once the pipeline closed: a source that acknowledges its messages (see SourceAcks) sends
   * the acknowledgements the drain made due, then disconnects. What the close left unsettled stays
   * unacknowledged with the broker, to be delivered again.
   */
  finish?(): Promise<void>;
  /** Where the source stands with its broker (broker sources); asked about once a second. */
  health?(): Promise<SourceHealth | undefined>;
}

/**
 * The stop-by-abort lifecycle every built-in source shares: `start` runs `run` once, with a signal
 * that aborts on the caller's signal or on `stop()`; `stop` aborts it and waits for the run to end.
 */
export abstract class StoppableSource<T extends SourceTarget = SourceTarget> implements Source {
  readonly #stopped = new AbortController();
  #running: Promise<void> | undefined;

  /** Pushes into `target` until exhausted or `signal` aborts. */
  protected abstract run(target: T, signal: AbortSignal): Promise<void>;

  start(target: T, signal: AbortSignal): Promise<void> {
    // Linked by hand rather than with AbortSignal.any, which Node only has from 20.3.
    const stopped = this.#stopped;
    if (signal.aborted) stopped.abort();
    else signal.addEventListener('abort', () => stopped.abort(), { once: true });
    this.#running ??= this.run(target, stopped.signal);
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#running?.catch(() => undefined);
  }
}

/** The event size a broker source assumes when it sizes its bound on unacknowledged messages. */
export const ASSUMED_EVENT_BYTES = 256;

/**
 * A broker source's default bound on messages read and not yet acknowledged: how many events every
 * ring together holds at ASSUMED_EVENT_BYTES each (at least `batch`), so that what it holds
 * fits the ring and a stalled sink stops its pulls instead of piling messages up in memory.
 */
export function defaultMaxPending(target: Pick<SourceTarget, 'options'>, batch: number): number {
  const { capacityBytes, partitions } = target.options.queue;
  return Math.max(batch, Math.floor((capacityBytes * partitions) / ASSUMED_EVENT_BYTES));
}

/**
 * Refuses a queue that drops events for a source that acknowledges its broker only after the sink:
 * drop-oldest discards events after their push resolved, and the ring releases their space as if
 * they were written, so their messages would be acknowledged and lost. Such a source bounds what
 * it holds itself (maxAckPending / maxPending), so `block` — or `reject` — is what it needs.
 */
export function refuseDroppingQueue(target: Pick<SourceTarget, 'options'>, source: string): void {
  const policy = target.options.queue.policy;
  if (policy === 'drop-oldest' || policy === 'drop-newest') {
    throw new InvalidOptionError(
      'queue.policy',
      `"block" or "reject" with the ${source} source (a dropped event's message would be acknowledged)`,
      policy,
    );
  }
}
