/**
 * What sets a pipeline's pace, in one sentence, from two /api/stats snapshots a few seconds apart.
 * Pure and without imports: the dashboard page loads the compiled module as it is (served at
 * /bound-by.js), and `sluice top` can say the same sentence.
 *
 * The reasoning, from figures the snapshots carry:
 * - a sink failing every write sets the pace whatever else the figures say;
 * - a ring far from full with producers seldom waiting: the producers (the source) set the pace;
 * - otherwise the ring holds producers back, and the workers' time says why: busy most of the
 *   time, the share of it inside sink writes separates the sink from decoding + transform;
 * - a ring full while workers are mostly idle: the time goes elsewhere — dispatch on the main
 *   thread, or in-order release behind a batch still held.
 */

/** The figures of a LiveStats snapshot the verdict reads. */
export interface PaceSnapshot {
  takenAt: number;
  queueDepthBytes: number;
  queueCapacityBytes: number;
  producerBlockedSeconds: number;
  workers: number;
  workerUtilization: number;
  busySeconds?: number;
  sinkWriteSeconds?: number;
  sinkFailingSeconds?: number;
}

export type Bound = 'idle' | 'producers' | 'sink-down' | 'sink' | 'transform' | 'dispatch';

export interface Verdict {
  bound: Bound;
  text: string;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
const pct = (v: number) => `${Math.round(v * 100)} %`;

/** The verdict over the time between `prev` and `cur`; null without an earlier snapshot. */
export function boundBy(prev: PaceSnapshot | null, cur: PaceSnapshot): Verdict | null {
  if (!prev) return null;
  const dtS = (cur.takenAt - prev.takenAt) / 1000;
  if (!(dtS > 0)) return null;
  const fill = cur.queueCapacityBytes > 0 ? cur.queueDepthBytes / cur.queueCapacityBytes : 0;
  const blocked = clamp01((cur.producerBlockedSeconds - prev.producerBlockedSeconds) / dtS);
  const counted = cur.busySeconds !== undefined && prev.busySeconds !== undefined;
  const busyDelta = counted ? cur.busySeconds! - prev.busySeconds! : 0;
  const busy = counted ? clamp01(busyDelta / (dtS * Math.max(1, cur.workers))) : cur.workerUtilization;
  const sinkDelta =
    cur.sinkWriteSeconds !== undefined && prev.sinkWriteSeconds !== undefined
      ? cur.sinkWriteSeconds - prev.sinkWriteSeconds
      : 0;
  const sinkShare = busyDelta > 0 ? clamp01(sinkDelta / busyDelta) : 0;

  if (cur.sinkFailingSeconds !== undefined && cur.sinkFailingSeconds > 0)
    return {
      bound: 'sink-down',
      text:
        `The sink is failing every write (for ${Math.round(cur.sinkFailingSeconds)} s): events wait in the ring ` +
        `(${pct(fill)} full) and are retried; the log has the sink's error.`,
    };

  if (fill < 0.5 && blocked < 0.05) {
    if (busy < 0.01 && cur.queueDepthBytes === 0)
      return { bound: 'idle', text: 'Idle: nothing is arriving and nothing is waiting.' };
    return {
      bound: 'producers',
      text: `The producers set the pace: Sluice keeps up with what arrives (ring ${pct(fill)} full, workers ${pct(busy)} busy).`,
    };
  }
  const holding = `the ring is ${pct(fill)} full and producers wait ${pct(blocked)} of the time`;
  if (busy >= 0.75) {
    if (sinkShare >= 0.5)
      return {
        bound: 'sink',
        text: `The sink sets the pace: ${holding}; workers are ${pct(busy)} busy, ${pct(sinkShare)} of it inside sink writes.`,
      };
    return {
      bound: 'transform',
      text:
        `Decoding and the transform set the pace: ${holding}; workers are ${pct(busy)} busy, ` +
        `${pct(1 - sinkShare)} of it outside sink writes — more workers (if cores are free) or a cheaper transform.`,
    };
  }
  return {
    bound: 'dispatch',
    text:
      `Workers are only ${pct(busy)} busy while ${holding}: the time goes to dispatch on the main thread ` +
      '(a busy process or too few cores) or to in-order release behind a batch still held (a retry, a slow write).',
  };
}
