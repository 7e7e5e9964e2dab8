import { type QueueStats, sumStats } from '../queue/event-queue.js';

/** The fewest seconds a refused client is told to wait: Retry-After counts whole seconds. */
export const MIN_RETRY_AFTER_SECONDS = 1;
/** The most: a ring that releases nothing (a sink that is down) is not asked about every second. */
export const MAX_RETRY_AFTER_SECONDS = 30;
/** The span the release rate is measured over, ms. */
const WINDOW_MS = 5000;
/** Samples closer together than this are not kept: a storm of refusals keeps a few dozen. */
const SAMPLE_EVERY_MS = 100;

/** What Retry-After reads of a ring. */
export type RingFigures = Pick<
  QueueStats,
  'recordsReleased' | 'depthRecords' | 'depthBytes' | 'capacityBytes'
>;

interface Sample {
  at: number;
  released: number;
}

/**
 * How long a client refused for a full ring should wait before it sends again: the time the ring
 * takes, at the rate it has released events over the last few seconds, to release as many events
 * as the ring holds beyond half its capacity plus as many as were refused — about when the retry
 * finds room, rather than a fixed second that a slow sink turns into a storm of retries and a
 * fast one into idle clients. Nothing released for the whole window (a sink that is down): the
 * longest wait.
 */
export class RetryAfter {
  readonly #read: () => readonly RingFigures[];
  readonly #now: () => number;
  readonly #samples: Sample[] = [];

  /** `read`: each partition's ring now (their sum is the queue's). */
  constructor(read: () => readonly RingFigures[], now: () => number = () => performance.now()) {
    this.#read = read;
    this.#now = now;
  }

  /** Seconds, for a request whose last `refused` events found no room. */
  seconds(refused: number): number {
    const stats = sumStats(this.#read());
    const now = this.#now();
    // After a quiet spell (no refusal for two windows) the old samples say nothing of now: start
    // over, and answer the shortest wait until a window's worth is known.
    if (this.#samples.length > 0 && now - this.#samples.at(-1)!.at >= 2 * WINDOW_MS) this.#samples.length = 0;
    const last = this.#samples.at(-1);
    if (last === undefined || now - last.at >= SAMPLE_EVERY_MS)
      this.#samples.push({ at: now, released: stats.recordsReleased });
    // Keep the newest sample at least a window old as the rate's start, and nothing older.
    while (this.#samples.length > 2 && now - this.#samples[1]!.at >= WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const elapsedS = (now - first.at) / 1000;
    const released = stats.recordsReleased - first.released;
    if (elapsedS <= 0 || released <= 0)
      return elapsedS * 1000 >= WINDOW_MS ? MAX_RETRY_AFTER_SECONDS : MIN_RETRY_AFTER_SECONDS;
    const rate = released / elapsedS;
    // Events beyond half the ring: what must drain before a retry stands a fair chance.
    const fill = stats.capacityBytes > 0 ? stats.depthBytes / stats.capacityBytes : 1;
    const backlog = fill > 0.5 ? stats.depthRecords * ((fill - 0.5) / fill) : 0;
    const seconds = Math.ceil((backlog + Math.max(0, refused)) / rate);
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(MIN_RETRY_AFTER_SECONDS, seconds));
  }
}
