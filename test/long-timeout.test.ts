/**
 * longTimeout: a delay past Node's longest timer (2^31 - 1 ms, which Node fires after 1 ms) is
 * waited out whole; Infinity never fires; a cancelled one never fires.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { longTimeout } from '../src/long-timeout.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('longTimeout', () => {
  it('fires once, when the whole delay has passed, however far past 2^31 - 1 ms it is', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    for (const delay of [0, 5, 2 ** 31 - 1, 2 ** 31, 3 * 2 ** 31 + 7]) {
      const fired = vi.fn();
      longTimeout(fired, delay);
      if (delay > 0) {
        vi.advanceTimersByTime(delay - 1);
        expect(fired, `${delay} ms, 1 ms early`).not.toHaveBeenCalled();
      }
      vi.advanceTimersByTime(1);
      expect(fired, `${delay} ms`).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(2 ** 32);
      expect(fired).toHaveBeenCalledTimes(1);
    }
  });

  it('never fires for Infinity, nor once cancelled', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const never = vi.fn();
    longTimeout(never, Number.POSITIVE_INFINITY);
    const cancelled = vi.fn();
    const cancel = longTimeout(cancelled, 3 * 2 ** 31);
    vi.advanceTimersByTime(2 ** 31 + 5);
    cancel();
    vi.advanceTimersByTime(2 ** 34);
    expect(never).not.toHaveBeenCalled();
    expect(cancelled).not.toHaveBeenCalled();
  });
});
