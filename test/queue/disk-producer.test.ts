/**
 * Producer threads on a disk queue hold an answer slot of a shared array while their push waits
 * for the main thread, and give it back once they read the answer. A thread ended while it waits
 * (worker.terminate() runs no finally) must not keep its slot: with every slot kept so, every
 * producer thread's push would wait for ever.
 */
import { describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { DiskProducerPort } from '../../src/queue/disk-producer.js';
import type { FramedImages } from '../../src/queue/record-codec.js';
import type { DiskSlotProducerData } from '../fixtures/disk-slot-producer.js';
import { startFixture } from './ring-harness.js';

const options = resolveQueueOptions({});
const RECLAIM_AFTER_MS = 50;

/** A port whose pushes are held until `release()`, answered then as all accepted. */
function heldPort() {
  let arrivals = 0;
  let arrived = () => {};
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const port = new DiskProducerPort(async (frames: FramedImages) => {
    arrivals++;
    arrived();
    await released;
    return frames.starts.length;
  }, RECLAIM_AFTER_MS);
  const arrival = (n: number) =>
    new Promise<void>((resolve) => {
      arrived = () => {
        if (arrivals >= n) resolve();
      };
      arrived();
    });
  return { port, arrival, release };
}

async function until(condition: () => boolean, limitMs: number): Promise<void> {
  const end = performance.now() + limitMs;
  while (!condition() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('disk queue producer threads', () => {
  it('takes back the answer slot of a producer thread ended while its push waited', async () => {
    const { port, arrival, release } = heldPort();
    try {
      const thread = startFixture<number>('disk-slot-producer', {
        handle: port.handle,
        options,
        prefix: 'ended',
        count: 1,
      } satisfies DiskSlotProducerData);
      // Its push reached the main thread: the thread waits for the answer, holding its slot.
      await arrival(1);
      expect(port.heldSlots()).toBe(1);
      await thread.worker.terminate();
      release();
      // Answered, and never read: a hundred times the reclaim delay is a bound, not a measurement.
      await until(() => port.heldSlots() === 0, 100 * RECLAIM_AFTER_MS);
      expect(port.heldSlots()).toBe(0);
    } finally {
      await port.close();
    }
  });

  it('answers a live producer thread’s every push and leaves no slot held', async () => {
    const { port, release } = heldPort();
    try {
      release();
      const thread = startFixture<number>('disk-slot-producer', {
        handle: port.handle,
        options,
        prefix: 'live',
        count: 200,
      } satisfies DiskSlotProducerData);
      expect(await thread.result).toBe(200);
      expect(await thread.exited).toBe(0);
      expect(port.heldSlots()).toBe(0);
    } finally {
      await port.close();
    }
  });
});
