import { QueueFullError } from '../errors.js';
import {
  DROP_ACKED_NOTHING,
  DROP_ACKS,
  DROP_BYTES_WANTED,
  DROP_REQUESTS,
  DROP_RESULT,
  PRODUCERS_WAITING,
  RELEASE_CURSOR,
  SPACE_EPOCH,
  STAT_DROPPED_NEWEST,
  STAT_PRODUCER_BLOCKED_NS,
  STAT_PRODUCER_WAITS,
  STAT_REJECTED,
} from './layout.js';
import type { FullPolicy } from './queue-options.js';
import { RESERVE_FULL, type Ring } from './ring-buffer.js';
import { type WaitResult, waitAsync, waitSync } from './wait.js';

/** The full-ring policy discarded the record being pushed (it was counted). */
export const RESERVE_DROPPED = -2;

export interface ReservePolicy {
  readonly policy: FullPolicy;
  readonly rejectTimeoutMs: number;
}

/** Wait on `control[SPACE_EPOCH]` while it still holds `epoch`, for at most `timeoutMs`. */
export interface WaitStep {
  readonly control: Int32Array;
  readonly epoch: number;
  readonly timeoutMs: number;
}

/** Performs a wait step, blocking this thread (producer threads). */
export function waitStepSync(step: WaitStep): WaitResult {
  return waitSync(step.control, SPACE_EPOCH, step.epoch, step.timeoutMs);
}

/** Performs a wait step without blocking the event loop (the main thread). */
export function waitStepAsync(step: WaitStep): Promise<WaitResult> | WaitResult {
  return waitAsync(step.control, SPACE_EPOCH, step.epoch, step.timeoutMs);
}

/**
 * The full-ring algorithm, written once for both kinds of producer: it yields each wait it needs
 * and the caller performs it — `Atomics.wait` in producer threads, `Atomics.waitAsync` on the main
 * thread. Returns a reserved cursor or RESERVE_DROPPED; throws QueueFullError or ClosedError.
 * Callers try `ring.tryReserve` themselves first, so the common case never creates a generator.
 */
export function* roomOrPolicy(
  ring: Ring,
  bytes: number,
  options: ReservePolicy,
): Generator<WaitStep, number, WaitResult> {
  const { control, stats } = ring;
  const { policy } = options;
  if (policy === 'drop-newest') {
    Atomics.add(stats, STAT_DROPPED_NEWEST, 1n);
    return RESERVE_DROPPED;
  }
  if (policy === 'reject' && options.rejectTimeoutMs === 0) {
    Atomics.add(stats, STAT_REJECTED, 1n);
    throw new QueueFullError(0);
  }
  const started = performance.now();
  const deadline = policy === 'reject' ? started + options.rejectTimeoutMs : Infinity;
  let dropRequest = 0;
  let dropPending = false;
  /** The release cursor when the last drop was requested; -1 before any request. */
  let releaseAtRequest = -1;
  Atomics.add(stats, STAT_PRODUCER_WAITS, 1n);
  // Registered before the epoch is read below; see RingConsumer#wakeProducers for the other half.
  Atomics.add(control, PRODUCERS_WAITING, 1);
  try {
    for (;;) {
      // The epoch is read before re-checking for room: a release after this read changes the epoch,
      // so the wait below returns at once instead of missing it.
      const epoch = Atomics.load(control, SPACE_EPOCH);
      const cursor = ring.tryReserve(bytes);
      if (cursor !== RESERVE_FULL) return cursor;
      if (policy === 'drop-oldest') {
        if (dropPending && ((Atomics.load(control, DROP_ACKS) - dropRequest) | 0) >= 0) {
          // DROP_RESULT was stored before DROP_ACKS, so it belongs to an answer at least this new.
          if (Atomics.load(control, DROP_RESULT) === DROP_ACKED_NOTHING) {
            // Everything in the ring is in flight: nothing old is left to discard, so this record goes.
            Atomics.add(stats, STAT_DROPPED_NEWEST, 1n);
            return RESERVE_DROPPED;
          }
          dropPending = false;
        }
        // Ask again only once space was released since the last request and there is still too
        // little: a drop that waits behind a batch in flight frees its space when that batch
        // commits, and asking meanwhile would discard more than needed.
        if (
          !dropPending &&
          (releaseAtRequest === -1 || Atomics.load(control, RELEASE_CURSOR) !== releaseAtRequest)
        ) {
          releaseAtRequest = Atomics.load(control, RELEASE_CURSOR);
          Atomics.add(control, DROP_BYTES_WANTED, bytes);
          dropRequest = (Atomics.add(control, DROP_REQUESTS, 1) + 1) | 0;
          dropPending = true;
          ring.signalConsumer();
        }
      }
      let timeoutMs = Infinity;
      if (deadline !== Infinity) {
        timeoutMs = deadline - performance.now();
        if (timeoutMs <= 0) {
          Atomics.add(stats, STAT_REJECTED, 1n);
          throw new QueueFullError(Math.round(performance.now() - started));
        }
      }
      yield { control, epoch, timeoutMs };
    }
  } finally {
    Atomics.sub(control, PRODUCERS_WAITING, 1);
    Atomics.add(stats, STAT_PRODUCER_BLOCKED_NS, BigInt(Math.round((performance.now() - started) * 1e6)));
  }
}

/** Reserves `bytes`, blocking this thread while the ring is full (producer threads). */
export function reserveSync(ring: Ring, bytes: number, options: ReservePolicy): number {
  const cursor = ring.tryReserve(bytes);
  if (cursor !== RESERVE_FULL) return cursor;
  const steps = roomOrPolicy(ring, bytes, options);
  let step = steps.next();
  while (!step.done) step = steps.next(waitStepSync(step.value));
  return step.value;
}

/** Reserves `bytes`, awaiting room while the ring is full without blocking the event loop. */
export async function reserveAsync(ring: Ring, bytes: number, options: ReservePolicy): Promise<number> {
  const cursor = ring.tryReserve(bytes);
  if (cursor !== RESERVE_FULL) return cursor;
  const steps = roomOrPolicy(ring, bytes, options);
  let step = steps.next();
  while (!step.done) step = steps.next(await waitStepAsync(step.value));
  return step.value;
}
