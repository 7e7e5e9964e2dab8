import type { SluiceEvent } from '../codec/event.js';

/**
 * Benchmark events. `ts` carries the intended send time (wall-clock ms): the sink side measures
 * end-to-end latency from it, so a producer held up by backpressure cannot hide the wait
 * (coordinated omission corrected, as wrk2 does).
 */
const ACTIONS = ['view', 'click', 'add-to-cart', 'checkout'];

export function benchEvent(id: string, seq: number, intendedAt: number): SluiceEvent {
  return {
    id,
    key: `user-${seq % 4096}`,
    ts: intendedAt,
    payload: {
      user: seq % 4096,
      action: ACTIONS[seq & 3],
      path: `/catalog/item/${seq % 977}`,
      amount: (seq % 10_000) / 100,
      tags: ['web', 'eu'],
    },
  };
}

/** The same event as one NDJSON line (what a socket would deliver). */
export function benchLine(id: string, seq: number, intendedAt: number): string {
  return (
    `{"id":"${id}","key":"user-${seq % 4096}","ts":${intendedAt},"user":${seq % 4096},` +
    `"action":"${ACTIONS[seq & 3]}","path":"/catalog/item/${seq % 977}","amount":${(seq % 10_000) / 100},"tags":["web","eu"]}`
  );
}
