import { describe, expect, it } from 'vitest';
import { boundBy, type PaceSnapshot } from '../../src/metrics/dashboard/bound-by.js';

const CAPACITY = 16 * 1024 * 1024;
/** Two snapshots 5 s apart, two workers, with the figures of the interval given as shares. */
function interval(
  fill: number,
  blocked: number,
  busy: number,
  sinkShare: number,
): [PaceSnapshot, PaceSnapshot] {
  const prev: PaceSnapshot = {
    takenAt: 1_000_000,
    queueDepthBytes: Math.round(fill * CAPACITY),
    queueCapacityBytes: CAPACITY,
    producerBlockedSeconds: 100,
    workers: 2,
    workerUtilization: busy,
    busySeconds: 50,
    sinkWriteSeconds: 20,
  };
  const busySeconds = busy * 5 * 2;
  return [
    prev,
    {
      ...prev,
      takenAt: prev.takenAt + 5000,
      producerBlockedSeconds: prev.producerBlockedSeconds + blocked * 5,
      busySeconds: prev.busySeconds! + busySeconds,
      sinkWriteSeconds: prev.sinkWriteSeconds! + busySeconds * sinkShare,
    },
  ];
}

describe('what sets the pace', () => {
  it('says nothing from one snapshot', () => {
    const [, cur] = interval(0.9, 0.5, 0.9, 0.9);
    expect(boundBy(null, cur)).toBeNull();
    expect(boundBy(cur, cur)).toBeNull();
  });

  it.each([
    // fill, producers blocked, workers busy, share of busy time in sink writes → bound
    [0, 0, 0, 0, 'idle'],
    [0.1, 0, 0.4, 0.5, 'producers'],
    [0.45, 0.04, 0.9, 0.9, 'producers'],
    [0.98, 0.6, 0.95, 0.8, 'sink'],
    [0.98, 0.6, 0.95, 0.2, 'transform'],
    [1, 0.51, 0.47, 0.6, 'dispatch'],
    [0.2, 0.3, 0.9, 0.7, 'sink'],
  ] as const)('fill %s, blocked %s, busy %s, sink share %s: %s', (fill, blocked, busy, share, bound) => {
    const [prev, cur] = interval(fill, blocked, busy, share);
    expect(boundBy(prev, cur)?.bound).toBe(bound);
  });

  it('names the figures it judged by', () => {
    const [prev, cur] = interval(1, 0.51, 0.47, 0.6);
    expect(boundBy(prev, cur)?.text).toBe(
      'Workers are only 47 % busy while the ring is 100 % full and producers wait 51 % of the time: ' +
        'the time goes to dispatch on the main thread (a busy process or too few cores) or to in-order ' +
        'release behind a batch still held (a retry, a slow write).',
    );
    const [p2, c2] = interval(0.98, 0.6, 0.95, 0.8);
    expect(boundBy(p2, c2)?.text).toBe(
      'The sink sets the pace: the ring is 98 % full and producers wait 60 % of the time; workers are 95 % busy, 80 % of it inside sink writes.',
    );
  });

  it('puts a sink failing every write first, with how long', () => {
    const [prev, cur] = interval(0.3, 0, 0.9, 0.95);
    expect(boundBy(prev, { ...cur, sinkFailingSeconds: 12.4 })).toEqual({
      bound: 'sink-down',
      text: "The sink is failing every write (for 12 s): events wait in the ring (30 % full) and are retried; the log has the sink's error.",
    });
    expect(boundBy(prev, { ...cur, sinkFailingSeconds: 0 })?.bound).toBe('producers');
  });

  it('falls back on the utilisation figure for snapshots without busy time (an older server)', () => {
    const [prev, cur] = interval(0.98, 0.6, 0.95, 0.8);
    const { busySeconds: _a, sinkWriteSeconds: _b, ...oldPrev } = prev;
    const { busySeconds: _c, sinkWriteSeconds: _d, ...oldCur } = cur;
    expect(boundBy(oldPrev, oldCur)?.bound).toBe('transform');
  });
});
