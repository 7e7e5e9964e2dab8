import { describe, expect, it } from 'vitest';
import { markTaskStarted, TaskClock } from '../../src/engine/task-clock.js';

describe('TaskClock (when and where each running task started)', () => {
  it('reads a slot as unstarted until a worker marks it, then its start and its thread', () => {
    const clock = new TaskClock(4);
    const slot = clock.acquire()!;
    expect(clock.startedAt(slot)).toBeUndefined();
    expect(clock.threadOf(slot)).toBeUndefined();
    markTaskStarted(new BigInt64Array(clock.buffer), slot, 1_700_000_000_123.5, 7);
    expect(clock.startedAt(slot)).toBe(1_700_000_000_123.5);
    expect(clock.threadOf(slot)).toBe(7);
  });

  it('keeps each slot to its own task: marks of one slot are not read in another, and a slot taken again starts unstarted', () => {
    const clock = new TaskClock(3);
    const starts = new BigInt64Array(clock.buffer);
    const slots = [clock.acquire()!, clock.acquire()!, clock.acquire()!];
    expect(new Set(slots).size).toBe(3);
    expect(clock.acquire()).toBeUndefined();
    for (const [i, slot] of slots.entries()) markTaskStarted(starts, slot, 1000 + i, 100 + i);
    slots.forEach((slot, i) => {
      expect(clock.startedAt(slot)).toBe(1000 + i);
      expect(clock.threadOf(slot)).toBe(100 + i);
    });
    clock.release(slots[1]!);
    const again = clock.acquire()!;
    expect(again).toBe(slots[1]);
    expect(clock.startedAt(again)).toBeUndefined();
    expect(clock.threadOf(again)).toBeUndefined();
    expect(clock.threadOf(slots[0]!)).toBe(100);
    expect(clock.threadOf(slots[2]!)).toBe(102);
  });
});
