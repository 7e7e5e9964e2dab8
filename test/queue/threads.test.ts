/**
 * Real threads on real shared memory: producer threads (QueueProducer, blocking in Atomics.wait)
 * and consumer threads (RingConsumer, waitForWorkSync) run the fixtures in test/fixtures. Every
 * record is accounted for by (producer, seq); a watchdog fails a test that hangs instead of letting
 * it hang the suite.
 */
import { describe, expect, it, onTestFailed } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import type { FullPolicy } from '../../src/queue/queue-options.js';
import type { ConsumerData, ConsumerResult } from '../fixtures/ring-consumer.js';
import type { ProducerData, ProducerResult } from '../fixtures/ring-producer.js';
import { type FixtureThread, startFixture, watchdog } from './ring-harness.js';

interface RunOptions {
  policy?: FullPolicy;
  capacityBytes: number;
  partitions: number;
  producers: number;
  perProducer: number;
  keyCount: number;
  maxPad: number;
  consumer: Pick<ConsumerData, 'maxRecords' | 'maxBytes' | 'holdRanges'>;
  timeoutMs: number;
}

interface RunResult {
  queue: EventQueue;
  producers: ProducerResult[];
  /** One result per ring, in ring order. */
  consumers: ConsumerResult[];
}

/**
 * Starts one consumer thread per ring and the producer threads; once every producer has reported,
 * closes the queue so the consumers drain and finish. Fails (closing the queue and terminating every
 * thread) if the whole run takes longer than `timeoutMs`.
 */
async function run(options: RunOptions): Promise<RunResult> {
  const queue = EventQueue.create(
    resolveQueueOptions({
      capacityBytes: options.capacityBytes,
      partitions: options.partitions,
      policy: options.policy ?? 'block',
    }),
  );
  const handle = queue.handle;
  const consumers: FixtureThread<ConsumerResult>[] = queue.rings.map((_, ringIndex) =>
    startFixture<ConsumerResult>('ring-consumer', {
      handle,
      ringIndex,
      ...options.consumer,
    } satisfies ConsumerData),
  );
  const seedBase = Math.floor(Math.random() * 2 ** 31);
  // Chunk sizes and keys follow from the seed: print it so a failure can be replayed.
  onTestFailed(() => console.error(`threads.test: producer seed base ${seedBase}`));
  const producers: FixtureThread<ProducerResult>[] = Array.from(
    { length: options.producers },
    (_, producerIndex) =>
      startFixture<ProducerResult>('ring-producer', {
        handle,
        producerIndex,
        count: options.perProducer,
        seed: seedBase + producerIndex,
        keyCount: options.keyCount,
        maxPad: options.maxPad,
      } satisfies ProducerData),
  );
  const threads = [...consumers, ...producers];
  const everything = (async () => {
    const producerResults = await Promise.all(producers.map((p) => p.result));
    queue.close();
    const consumerResults = await Promise.all(consumers.map((c) => c.result));
    const exitCodes = await Promise.all(threads.map((t) => t.exited));
    return { producerResults, consumerResults, exitCodes };
  })();
  try {
    const { producerResults, consumerResults, exitCodes } = await watchdog(
      everything,
      options.timeoutMs,
      () => {
        const s = queue.stats();
        return `run with seed base ${seedBase} (written ${s.recordsWritten}, released ${s.recordsReleased}, producers waiting ${s.producerWaits})`;
      },
      () => queue.close(),
    );
    expect(exitCodes.every((code) => code === 0)).toBe(true);
    return { queue, producers: producerResults, consumers: consumerResults };
  } finally {
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}

function expectCleanReads(consumers: ConsumerResult[]): void {
  for (const c of consumers) {
    expect(c.corruptSamples).toEqual([]);
    expect(c.corrupt).toBe(0);
    expect(c.badRanges).toBe(0);
  }
}

/**
 * Every (producer, seq) arrived exactly once: counts per producer, and a bitmap per producer with
 * no duplicate and no gap.
 */
function expectExactlyOnce(consumers: ConsumerResult[], producers: number, perProducer: number): void {
  const seen = Array.from({ length: producers }, () => new Uint8Array(perProducer));
  let total = 0;
  let duplicates = 0;
  let outOfRange = 0;
  for (const c of consumers) {
    for (let i = 0; i < c.seq.length; i++) {
      const p = c.producer[i]!;
      const s = c.seq[i]!;
      total++;
      if (p < 0 || p >= producers || s < 0 || s >= perProducer) {
        outOfRange++;
        continue;
      }
      if (seen[p]![s]!++ > 0) duplicates++;
    }
  }
  expect(outOfRange).toBe(0);
  expect(duplicates).toBe(0);
  for (let p = 0; p < producers; p++) {
    const missing = seen[p]!.indexOf(0);
    expect(missing, `producer ${p} record ${missing} never arrived`).toBe(-1);
  }
  expect(total).toBe(producers * perProducer);
}

describe('producer and consumer threads on one ring', () => {
  it('4 producer threads × 100 000 records through a 64 KiB ring: every record arrives exactly once, each producer in order', async () => {
    const producers = 4;
    const perProducer = 100_000;
    const {
      queue,
      producers: produced,
      consumers,
    } = await run({
      capacityBytes: 64 * 1024,
      partitions: 1,
      producers,
      perProducer,
      keyCount: 0,
      maxPad: 40,
      consumer: { maxRecords: 256, maxBytes: 16 * 1024, holdRanges: 3 },
      timeoutMs: 30_000,
    });
    expect(produced.map((p) => p.error)).toEqual(Array(producers).fill(undefined));
    expect(produced.map((p) => p.accepted)).toEqual(Array(producers).fill(perProducer));
    expectCleanReads(consumers);
    expectExactlyOnce(consumers, producers, perProducer);

    const [only] = consumers as [ConsumerResult];
    const next = new Int32Array(producers);
    let outOfOrder = 0;
    for (let i = 0; i < only.seq.length; i++) {
      const p = only.producer[i]!;
      if (only.seq[i] !== next[p]) outOfOrder++;
      next[p] = only.seq[i]! + 1;
    }
    expect(outOfOrder).toBe(0);

    const stats = queue.stats();
    expect(stats.recordsWritten).toBe(producers * perProducer);
    expect(stats.recordsClaimed).toBe(producers * perProducer);
    expect(stats.recordsReleased).toBe(producers * perProducer);
    expect(stats.depthRecords).toBe(0);
    expect(stats.depthBytes).toBe(0);
    expect(stats.droppedNewest + stats.droppedOldest + stats.rejected).toBe(0);
    // 400 000 records of ~100 bytes through 64 KiB: producers had to wait for the consumer.
    expect(stats.producerWaits).toBeGreaterThan(0);
  });

  it('with 4 partitions and keys, every record arrives exactly once, each key in its own partition and in order per producer', async () => {
    const producers = 4;
    const perProducer = 100_000;
    const keyCount = 32;
    const {
      queue,
      producers: produced,
      consumers,
    } = await run({
      capacityBytes: 16 * 1024,
      partitions: 4,
      producers,
      perProducer,
      keyCount,
      maxPad: 20,
      consumer: { maxRecords: 64, maxBytes: 4096, holdRanges: 2 },
      timeoutMs: 30_000,
    });
    expect(produced.map((p) => p.error)).toEqual(Array(producers).fill(undefined));
    expect(produced.map((p) => p.accepted)).toEqual(Array(producers).fill(perProducer));
    expectCleanReads(consumers);
    expectExactlyOnce(consumers, producers, perProducer);

    let misplaced = 0;
    let outOfOrder = 0;
    const keyless = new Array<number>(consumers.length).fill(0);
    consumers.forEach((c, ring) => {
      // Last seq seen per (producer, key) in this ring.
      const last = new Int32Array(producers * keyCount).fill(-1);
      for (let i = 0; i < c.seq.length; i++) {
        const k = c.key[i]!;
        if (k < 0) {
          keyless[ring]!++;
          continue;
        }
        if (queue.partitionOf(`k${k}`) !== ring) misplaced++;
        const slot = c.producer[i]! * keyCount + k;
        if (c.seq[i]! <= last[slot]!) outOfOrder++;
        last[slot] = c.seq[i]!;
      }
    });
    expect(misplaced).toBe(0);
    expect(outOfOrder).toBe(0);
    // Key-less events are spread over the partitions, not piled into one.
    expect(keyless.filter((n) => n > 0).length).toBeGreaterThan(1);
    // The keys really do spread over all four rings.
    expect(new Set(Array.from({ length: keyCount }, (_, k) => queue.partitionOf(`k${k}`))).size).toBe(4);
    expect(queue.stats().recordsReleased).toBe(producers * perProducer);
  });

  it('a tiny ring hammered through full/empty transitions, released one record at a time, loses no wake-up', async () => {
    const producers = 2;
    const perProducer = 20_000;
    const {
      queue,
      producers: produced,
      consumers,
    } = await run({
      capacityBytes: 4096,
      partitions: 1,
      producers,
      perProducer,
      keyCount: 0,
      maxPad: 200,
      consumer: { maxRecords: 1, maxBytes: Number.MAX_SAFE_INTEGER, holdRanges: 0 },
      timeoutMs: 30_000,
    });
    expect(produced.map((p) => p.accepted)).toEqual(Array(producers).fill(perProducer));
    expectCleanReads(consumers);
    expectExactlyOnce(consumers, producers, perProducer);
    const [only] = consumers as [ConsumerResult];
    const next = new Int32Array(producers);
    let outOfOrder = 0;
    for (let i = 0; i < only.seq.length; i++) {
      const p = only.producer[i]!;
      if (only.seq[i] !== next[p]) outOfOrder++;
      next[p] = only.seq[i]! + 1;
    }
    expect(outOfOrder).toBe(0);
    const stats = queue.stats();
    expect(stats.recordsReleased).toBe(producers * perProducer);
    expect(stats.producerWaits).toBeGreaterThan(0);
  });

  it('drop-oldest producer threads against a slow consumer: drops are counted exactly and what arrives keeps each producer’s order', async () => {
    const producers = 2;
    const perProducer = 20_000;
    const {
      queue,
      producers: produced,
      consumers,
    } = await run({
      policy: 'drop-oldest',
      capacityBytes: 4096,
      partitions: 1,
      producers,
      perProducer,
      keyCount: 0,
      maxPad: 100,
      consumer: { maxRecords: 4, maxBytes: Number.MAX_SAFE_INTEGER, holdRanges: 6 },
      timeoutMs: 30_000,
    });
    expect(produced.map((p) => p.error)).toEqual(Array(producers).fill(undefined));
    expectCleanReads(consumers);
    const [only] = consumers as [ConsumerResult];
    const last = new Int32Array(producers).fill(-1);
    let outOfOrder = 0;
    for (let i = 0; i < only.seq.length; i++) {
      const p = only.producer[i]!;
      if (only.seq[i]! <= last[p]!) outOfOrder++;
      last[p] = only.seq[i]!;
    }
    expect(outOfOrder).toBe(0);

    const accepted = produced.reduce((sum, p) => sum + p.accepted, 0);
    const stats = queue.stats();
    expect(stats.recordsWritten).toBe(accepted);
    expect(stats.droppedNewest).toBe(producers * perProducer - accepted);
    expect(stats.droppedOldest).toBe(only.dropped);
    expect(only.seq.length).toBe(accepted - only.dropped);
    expect(stats.recordsReleased).toBe(accepted);
    expect(stats.depthBytes).toBe(0);
    // The consumer keeps most of the 4 KiB ring in flight, so the drop-oldest path really ran.
    expect(stats.producerWaits).toBeGreaterThan(0);
    expect(stats.droppedOldest).toBeGreaterThan(0);
  });
});
