import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_SECONDS, RetryAfter } from '../../src/sources/retry-after.js';

/** A ring of 1000 events' worth that releases `perSecond` events a second, on a clock moved by hand. */
function ring(perSecond: number, depthRecords: number, fill: number) {
  let now = 0;
  const stats = { recordsReleased: 0, depthRecords, depthBytes: fill * 1_000_000, capacityBytes: 1_000_000 };
  const retryAfter = new RetryAfter(
    () => [{ ...stats, recordsReleased: Math.floor((now / 1000) * perSecond) }],
    () => now,
  );
  return {
    retryAfter,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('Retry-After for a full ring', () => {
  it('is the time the ring takes to release the backlog beyond half of it plus what was refused', () => {
    // 1000 events a second; 4000 held, the ring full: 2000 beyond half, 500 refused → 2.5 s → 3.
    const r = ring(1000, 4000, 1);
    r.retryAfter.seconds(500);
    r.advance(2000);
    expect(r.retryAfter.seconds(500)).toBe(3);
    // A sink ten times faster drains the same backlog in a second at most.
    const fast = ring(10_000, 4000, 1);
    fast.retryAfter.seconds(500);
    fast.advance(2000);
    expect(fast.retryAfter.seconds(500)).toBe(1);
  });

  it('grows as the release rate falls, up to its bound', () => {
    const waits = [2000, 500, 100, 10].map((perSecond) => {
      const r = ring(perSecond, 20_000, 1);
      r.retryAfter.seconds(1000);
      r.advance(3000);
      return r.retryAfter.seconds(1000);
    });
    expect(waits).toEqual([...waits].sort((a, b) => a - b));
    expect(waits[0]).toBe(6); // (10 000 + 1000) / 2000 = 5.5
    expect(waits.at(-1)).toBe(MAX_RETRY_AFTER_SECONDS);
  });

  it('says the longest wait when nothing was released for a whole window (a sink that is down)', () => {
    const r = ring(0, 5000, 1);
    expect(r.retryAfter.seconds(10)).toBe(1); // nothing known yet
    r.advance(6000);
    expect(r.retryAfter.seconds(10)).toBe(MAX_RETRY_AFTER_SECONDS);
  });

  it('measures the rate over the last few seconds, so a sink that recovered is seen recovering', () => {
    let now = 0;
    let released = 0;
    let perSecond = 10; // slow at first
    const retryAfter = new RetryAfter(
      // Two partitions, their figures summed.
      () => [
        { recordsReleased: released / 2, depthRecords: 1500, depthBytes: 1, capacityBytes: 1 },
        { recordsReleased: released / 2, depthRecords: 1500, depthBytes: 1, capacityBytes: 1 },
      ],
      () => now,
    );
    for (let s = 0; s < 20; s++) {
      if (s === 10) perSecond = 3000; // the sink came back
      now += 1000;
      released += perSecond;
      retryAfter.seconds(100);
    }
    // Ten seconds after the recovery the rate is the new one: (1500 + 100) / 3000 → 1 s.
    expect(retryAfter.seconds(100)).toBe(1);
  });
});
