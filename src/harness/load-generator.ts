import type { SluiceEvent } from '../codec/event.js';
import { wallClockMs } from '../queue/record-codec.js';
import { benchEvent, benchLine } from './bench-event.js';
import type { EventFeedSpec, EventMaker } from './event-feed.js';

/** One producer's share of a run. */
export interface LoadPlan {
  /** First sequence number; this producer uses [seqStart, seqStart + seqLimit). */
  seqStart: number;
  seqLimit: number;
  /** Offered events/s for this producer, or 'max' (closed loop). */
  rate: number | 'max';
  durationMs: number;
  raw: boolean;
  prefix: string;
  /** Where the events come from; omitted: the built-in scenarios' events (see event-feed.ts). */
  feed?: EventFeedSpec;
}

export interface LoadOutcome {
  /** Events handed to push (their sequence numbers are [seqStart, seqStart + sent)). */
  sent: number;
  /** Of those, accepted (a drop policy may refuse some). */
  accepted: number;
}

const CHUNK = 256;

/**
 * Open loop, a producer wakes at most once per this many ms and pushes every event due by then.
 * Waking for each next event instead turns a producer thread into a spin of sub-millisecond waits
 * and pushes of one or two events — at 47 000 events/s that cost the engine 43 % more CPU per
 * event and doubled its p99 on two cores — and the main-thread driver could not match it anyway
 * (setTimeout's floor is 1 ms). Every event still carries its own intended send time, so the wait
 * is part of its measured latency.
 */
export const PACE_MS = 1;

/** The built-in scenarios' events: objects, or NDJSON lines for a raw plan. */
export function benchMaker(plan: Pick<LoadPlan, 'raw'>): EventMaker {
  return plan.raw ? (seq, id, at) => benchLine(id, seq, at) : (seq, id, at) => benchEvent(id, seq, at);
}

/** The events of [from, to) with their intended send times. */
function build(
  plan: LoadPlan,
  make: EventMaker,
  from: number,
  to: number,
  intendedAt: (i: number) => number,
): (SluiceEvent | string)[] {
  const out = new Array<SluiceEvent | string>(to - from);
  for (let i = from; i < to; i++) {
    const seq = plan.seqStart + i;
    out[i - from] = make(seq, `${plan.prefix}${seq}`, intendedAt(i));
  }
  return out;
}

/**
 * The schedule, written once for both drivers. Open loop: event i is due at start + i / rate, and
 * carries that intended time even when backpressure delays its push — the latency then includes
 * the delay instead of hiding it (coordinated omission). Closed loop: push as fast as accepted.
 * Yields `{ events }` to push or `{ sleepMs }` to wait.
 */
export function* loadSchedule(
  plan: LoadPlan,
  make: EventMaker = benchMaker(plan),
): Generator<{ events: (SluiceEvent | string)[] } | { sleepMs: number }, void, void> {
  const start = wallClockMs();
  let sent = 0;
  if (plan.rate === 'max') {
    while (sent < plan.seqLimit && wallClockMs() - start < plan.durationMs) {
      const to = Math.min(plan.seqLimit, sent + CHUNK);
      const now = wallClockMs();
      yield { events: build(plan, make, sent, to, () => now) };
      sent = to;
    }
    return;
  }
  const interval = 1000 / plan.rate;
  while (sent < plan.seqLimit) {
    const woke = wallClockMs();
    if (woke - start >= plan.durationMs) return;
    const due = Math.min(plan.seqLimit, Math.floor((woke - start) / interval) + 1);
    while (sent < due) {
      const to = Math.min(due, sent + CHUNK * 4);
      yield { events: build(plan, make, sent, to, (i) => start + i * interval) };
      sent = to;
      // A push held up by backpressure may outlast the run: stop at its end, not at `due`.
      if (wallClockMs() - start >= plan.durationMs) return;
    }
    // Until the next event is due, but at least PACE_MS after this wake-up.
    const now = wallClockMs();
    yield { sleepMs: Math.max(start + sent * interval - now, woke + PACE_MS - now) };
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Drives a schedule from a producer thread; `push` may block (Atomics.wait on a full ring). */
export function runLoadSync(
  plan: LoadPlan,
  push: (events: (SluiceEvent | string)[]) => number,
  make: EventMaker = benchMaker(plan),
): LoadOutcome {
  let sent = 0;
  let accepted = 0;
  for (const step of loadSchedule(plan, make)) {
    if ('sleepMs' in step) {
      if (step.sleepMs > 0) Atomics.wait(sleeper, 0, 0, Math.min(step.sleepMs, 5));
      continue;
    }
    accepted += push(step.events);
    sent += step.events.length;
  }
  return { sent, accepted };
}

/** Drives a schedule on the main thread; yields to the event loop so consumers run in between. */
export async function runLoadAsync(
  plan: LoadPlan,
  push: (events: (SluiceEvent | string)[]) => Promise<number> | number,
  make: EventMaker = benchMaker(plan),
): Promise<LoadOutcome> {
  let sent = 0;
  let accepted = 0;
  for (const step of loadSchedule(plan, make)) {
    if ('sleepMs' in step) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(step.sleepMs, 5))));
      continue;
    }
    const result = push(step.events);
    accepted += typeof result === 'number' ? result : await result;
    sent += step.events.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { sent, accepted };
}
