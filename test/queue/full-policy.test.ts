/**
 * What a producer does when its ring is full, under each policy, and what closing the queue does to
 * producers. Main-thread producers are AsyncQueueProducer (and QueueProducer where it never waits);
 * pending and settled pushes are observed through promise state after letting the event loop run,
 * never through elapsed time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import type { SluiceError } from '../../src/errors.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { CONSUMER_SIGNAL, PRODUCERS_WAITING } from '../../src/queue/layout.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';
import type { FullPolicy } from '../../src/queue/queue-options.js';
import { RingConsumer, type RingRange } from '../../src/queue/ring-consumer.js';
import type { ProducerResult } from '../fixtures/ring-producer.js';
import {
  drain,
  eventOfSize,
  lapRecords,
  readRange,
  startFixture,
  track,
  turns,
  until,
  watchdog,
} from './ring-harness.js';

const CAPACITY = 4096;
const SMALL = 64; // 64 records of 64 bytes fill a 4 KiB ring exactly

const oldIds = (n: number) => Array.from({ length: n }, (_, i) => `old-${String(i).padStart(2, '0')}`);

interface Setup {
  queue: EventQueue;
  consumer: RingConsumer;
  producer: AsyncQueueProducer;
}

const open: EventQueue[] = [];
afterEach(() => {
  // Wakes anything a failed test left waiting, so it cannot leak into the next test.
  for (const queue of open.splice(0)) queue.close();
});

/** A 4 KiB queue under `policy`, filled to the last byte with 64 records of 64 bytes: old-00..old-63. */
async function fullQueue(policy: FullPolicy, rejectTimeoutMs = 0): Promise<Setup> {
  const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: CAPACITY, policy, rejectTimeoutMs }));
  open.push(queue);
  const producer = new AsyncQueueProducer(queue);
  const accepted = await producer.pushMany(oldIds(CAPACITY / SMALL).map((id) => eventOfSize(id, SMALL)));
  expect(accepted).toBe(CAPACITY / SMALL);
  expect(queue.rings[0]!.usedBytes()).toBe(CAPACITY);
  return { queue, consumer: new RingConsumer(queue.rings[0]!), producer };
}

function producersWaiting(queue: EventQueue): number {
  return Atomics.load(queue.rings[0]!.control, PRODUCERS_WAITING);
}

describe("policy 'block'", () => {
  it('a producer blocks when the ring is full and resumes when space is released', async () => {
    const { queue, consumer, producer } = await fullQueue('block');
    const push = track(() => producer.push(eventOfSize('new', SMALL)));
    await turns();
    expect(push.state).toBe('pending');
    expect(producersWaiting(queue)).toBe(1);
    expect(queue.stats().producerWaits).toBe(1);

    const range = consumer.claim(1, Number.MAX_SAFE_INTEGER)!;
    await turns();
    expect(push.state, 'claiming frees no space; only release does').toBe('pending');

    consumer.release(range.end, range.records);
    await expect(watchdog(push.promise, 5_000, 'push after release')).resolves.toBe(true);
    expect(producersWaiting(queue)).toBe(0);
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(1), 'new']);
  });

  it('a blocked push stays pending while the space released is smaller than its record', async () => {
    const { consumer, producer } = await fullQueue('block');
    const push = track(() => producer.push(eventOfSize('big', 4 * SMALL)));
    await turns();
    expect(push.state).toBe('pending');

    for (let released = 1; released <= 3; released++) {
      const range = consumer.claim(1, Number.MAX_SAFE_INTEGER)!;
      consumer.release(range.end, range.records);
      await turns();
      expect(push.state, `after releasing ${released} of the 4 records it needs`).toBe('pending');
    }
    const fourth = consumer.claim(1, Number.MAX_SAFE_INTEGER)!;
    consumer.release(fourth.end, fourth.records);
    await expect(watchdog(push.promise, 5_000, 'push after enough space was released')).resolves.toBe(true);
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(4), 'big']);
  });

  it('every blocked push of a batch completes, in order, as the consumer frees space', async () => {
    const { consumer, producer } = await fullQueue('block');
    const fresh = Array.from({ length: 100 }, (_, i) =>
      eventOfSize(`new-${String(i).padStart(3, '0')}`, SMALL),
    );
    const push = track(() => producer.pushMany(fresh));
    const seen: string[] = [];
    // Consume one record at a time until the batch has gone in: 164 records need 164 releases.
    for (let turn = 0; push.state === 'pending'; turn++) {
      if (turn > 10_000)
        throw new Error(`batch push still pending after ${seen.length} records were consumed`);
      const range = consumer.claim(1, Number.MAX_SAFE_INTEGER);
      if (range) {
        seen.push(...readRange(consumer.ring, range).map((r) => r.id));
        consumer.release(range.end, range.records);
      }
      await turns(1);
    }
    await expect(push.promise).resolves.toBe(100);
    seen.push(...drain(consumer).map((r) => r.id));
    expect(seen).toEqual([...oldIds(64), ...fresh.map((e) => e.id)]);
  });

  it('pushes of one key that are not awaited keep their order when the first has to wait for room', async () => {
    const { consumer, producer } = await fullQueue('block');
    // Both records are exactly 64 bytes: 48 header + id + key + JSON payload.
    const first = track(() => producer.push({ id: 'first', key: 'k', payload: 'x'.repeat(8) }));
    await turns();
    expect(first.state).toBe('pending');
    // Room for one record appears (a consumer thread could release at any moment); the caller
    // pushes the next event of the same key before the first push has had a turn to resume.
    const range = consumer.claim(1, Number.MAX_SAFE_INTEGER)!;
    consumer.release(range.end, range.records);
    const second = track(() => producer.push({ id: 'second', key: 'k', payload: 'x'.repeat(7) }));
    // Free the rest of the ring so both pushes can complete whatever order they take.
    const rest = consumer.claim(lapRecords(consumer.ring), Number.MAX_SAFE_INTEGER)!;
    consumer.release(rest.end, rest.records);
    await watchdog(Promise.all([first.promise, second.promise]), 10_000, 'both pushes');
    expect(drain(consumer).map((r) => r.id)).toEqual(['first', 'second']);
  });
});

describe('a push waiting for room, and the memory its caller passed', () => {
  /** Frees the whole ring, then returns every record read back once the push has gone in. */
  async function release(consumer: RingConsumer, push: Promise<unknown>): Promise<unknown[]> {
    const rest = consumer.claim(lapRecords(consumer.ring), Number.MAX_SAFE_INTEGER)!;
    consumer.release(rest.end, rest.records);
    await watchdog(push, 10_000, 'the waiting push');
    return drain(consumer).map((r) => r.payload);
  }

  it('pushRaw writes the bytes it was given, though the caller reuses its buffer, then transfers it, while it waits', async () => {
    const { consumer, producer } = await fullQueue('block');
    // A buffer of its own (Buffer.from's small buffers share a pool, which cannot be transferred).
    const buffer = Buffer.from(new TextEncoder().encode('{"id":"waited","n":1}').buffer);
    const push = track(() => producer.pushRaw(buffer));
    await turns();
    expect(push.state).toBe('pending');
    buffer.write('{"id":"changed","n":2}');
    // Transferring detaches the caller's ArrayBuffer: a copy made only now would read nothing.
    structuredClone(buffer.buffer, { transfer: [buffer.buffer] });
    expect(buffer.byteLength).toBe(0);
    expect(await release(consumer, push.promise)).toEqual([{ id: 'waited', n: 1 }]);
  });

  it('pushLines writes the lines it was given, though the caller changes the bytes and the offsets while it waits', async () => {
    const { consumer, producer } = await fullQueue('block');
    const bytes = Buffer.from('{"n":1}\n{"n":2}\n');
    const starts = [0, 8];
    const ends = [7, 15];
    const push = track(() => producer.pushLines({ bytes, starts, ends, idPrefix: 'l-', idNumbers: [1, 2] }));
    await turns();
    expect(push.state).toBe('pending');
    bytes.fill(0x20);
    starts[1] = 0;
    ends[1] = 16;
    expect(await release(consumer, push.promise)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a pushRawMany queued behind a waiting push writes the lines it was given, though their buffers are reused meanwhile', async () => {
    const { consumer, producer } = await fullQueue('block');
    const first = track(() => producer.push({ id: 'first', payload: 1 }));
    await turns();
    expect(first.state).toBe('pending');
    const lines = [Buffer.from('{"n":1}'), Buffer.from('{"n":2}')];
    const second = track(() => producer.pushRawMany(lines));
    for (const line of lines) line.write('{"n":9}');
    expect(await release(consumer, Promise.all([first.promise, second.promise]))).toEqual([
      1,
      { n: 1 },
      { n: 2 },
    ]);
  });
});

describe("policy 'reject'", () => {
  it('with rejectTimeoutMs 0 a push into a full ring fails at once with SLUICE_QUEUE_FULL and is counted', async () => {
    const { queue, consumer, producer } = await fullQueue('reject', 0);
    await expect(producer.push(eventOfSize('new', SMALL))).rejects.toMatchObject({
      code: 'SLUICE_QUEUE_FULL',
      name: 'QueueFullError',
    });
    let syncError: unknown;
    try {
      new QueueProducer(queue).push(eventOfSize('new-sync', SMALL));
    } catch (error) {
      syncError = error;
    }
    expect((syncError as SluiceError).code).toBe('SLUICE_QUEUE_FULL');
    const stats = queue.stats();
    expect(stats.rejected).toBe(2);
    expect(stats.recordsWritten).toBe(64);
    expect(stats.producerWaits).toBe(0);
    expect(drain(consumer).map((r) => r.id)).toEqual(oldIds(64));
  });

  it('with a timeout a push waits and succeeds if space is released before the timeout', async () => {
    const { queue, consumer, producer } = await fullQueue('reject', 60_000);
    const push = track(() => producer.push(eventOfSize('new', SMALL)));
    await turns();
    expect(push.state).toBe('pending');
    const range = consumer.claim(1, Number.MAX_SAFE_INTEGER)!;
    consumer.release(range.end, range.records);
    await expect(watchdog(push.promise, 5_000, 'push after release')).resolves.toBe(true);
    expect(queue.stats().rejected).toBe(0);
    expect(queue.stats().producerWaits).toBe(1);
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(1), 'new']);
  });

  it('with a timeout a push into a ring that stays full fails with SLUICE_QUEUE_FULL once the timeout has passed', async () => {
    const { queue, consumer, producer } = await fullQueue('reject', 50);
    const started = performance.now();
    const error = (await producer.push(eventOfSize('new', SMALL)).catch((e: unknown) => e)) as SluiceError;
    const waited = performance.now() - started;
    expect(error.code).toBe('SLUICE_QUEUE_FULL');
    // Timers may fire up to a millisecond early by rounding; the push must not give up sooner.
    expect(waited).toBeGreaterThanOrEqual(49);
    expect(queue.stats().rejected).toBe(1);
    expect(producersWaiting(queue)).toBe(0);
    expect(drain(consumer).map((r) => r.id)).toEqual(oldIds(64));
  });
});

describe("policy 'drop-newest'", () => {
  it('a push into a full ring returns false, is counted, and leaves the queued records unchanged', async () => {
    const { queue, consumer, producer } = await fullQueue('drop-newest');
    await expect(producer.push(eventOfSize('new-1', SMALL))).resolves.toBe(false);
    expect(new QueueProducer(queue).push(eventOfSize('new-2', SMALL))).toBe(false);
    await expect(producer.pushMany([eventOfSize('new-3', SMALL), eventOfSize('new-4', SMALL)])).resolves.toBe(
      0,
    );
    expect(new QueueProducer(queue).pushMany([eventOfSize('new-5', SMALL)])).toBe(0);
    const stats = queue.stats();
    expect(stats.droppedNewest).toBe(5);
    expect(stats.droppedOldest).toBe(0);
    expect(stats.recordsWritten).toBe(64);
    expect(stats.producerWaits).toBe(0);
    expect(drain(consumer).map((r) => r.id)).toEqual(oldIds(64));
  });

  it('a batch keeps the records that fit and drops only the rest', async () => {
    const { queue, consumer, producer } = await fullQueue('drop-newest');
    const range = consumer.claim(2, Number.MAX_SAFE_INTEGER)!;
    consumer.release(range.end, range.records);
    const batch = ['new-1', 'new-2', 'new-3', 'new-4', 'new-5'].map((id) => eventOfSize(id, SMALL));
    await expect(producer.pushMany(batch)).resolves.toBe(2);
    expect(queue.stats().droppedNewest).toBe(3);
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(2), 'new-1', 'new-2']);
  });
});

/**
 * A consumer that only answers drop-oldest requests, as a stalled pipeline's consumer would: it
 * sleeps on the consumer signal, calls dropOldest() whenever dropRequested(), and releases the
 * dropped range (or holds it for the test to release in ring order after its in-flight ranges).
 */
function dropResponder(consumer: RingConsumer, options: { holdDropped?: boolean } = {}) {
  const control = consumer.ring.control;
  const dropped: string[] = [];
  const held: RingRange[] = [];
  let answers = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const signal = Atomics.load(control, CONSUMER_SIGNAL);
      if (consumer.dropRequested()) {
        answers++;
        const range = consumer.dropOldest();
        if (range !== null) {
          dropped.push(...readRange(consumer.ring, range).map((r) => r.id));
          if (options.holdDropped) held.push(range);
          else consumer.release(range.end, range.records);
        }
        continue;
      }
      const wait = Atomics.waitAsync(control, CONSUMER_SIGNAL, signal);
      if (wait.async) await wait.value;
    }
  })();
  return {
    dropped,
    held,
    get answers() {
      return answers;
    },
    async stop() {
      stopped = true;
      Atomics.add(control, CONSUMER_SIGNAL, 1);
      Atomics.notify(control, CONSUMER_SIGNAL);
      await loop;
    },
  };
}

describe("policy 'drop-oldest'", () => {
  it('the oldest unclaimed records are discarded so the newest survive, each drop counted', async () => {
    const { queue, consumer, producer } = await fullQueue('drop-oldest');
    const responder = dropResponder(consumer);
    const fresh = Array.from({ length: 10 }, (_, i) => `new-${i}`);
    for (const id of fresh) {
      await expect(watchdog(producer.push(eventOfSize(id, SMALL)), 10_000, `push ${id}`)).resolves.toBe(true);
    }
    await responder.stop();
    expect(responder.dropped).toEqual(oldIds(10));
    const stats = queue.stats();
    expect(stats.droppedOldest).toBe(10);
    expect(stats.droppedNewest).toBe(0);
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(10), ...fresh]);
  });

  it('a record larger than each queued one gets in by discarding as many of the oldest as it needs', async () => {
    const { queue, consumer, producer } = await fullQueue('drop-oldest');
    const responder = dropResponder(consumer);
    try {
      // 208 bytes need four of the 64-byte records gone.
      const pushed = await watchdog(
        producer.push(eventOfSize('big', 208)),
        3_000,
        () => {
          const s = queue.stats();
          return `push of a 208-byte record (ring ${s.depthBytes}/${s.capacityBytes} bytes used, ${s.droppedOldest} dropped oldest)`;
        },
        () => queue.close(),
      );
      expect(pushed).toBe(true);
    } finally {
      await responder.stop();
    }
    const dropped = queue.stats().droppedOldest;
    expect(dropped).toBeGreaterThanOrEqual(4);
    expect(dropped).toBeLessThanOrEqual(8);
    expect(responder.dropped).toEqual(oldIds(dropped));
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(dropped), 'big']);
  });

  it('dropped records are released in ring order after the records in flight before them', async () => {
    const { queue, consumer, producer } = await fullQueue('drop-oldest');
    const inFlight = consumer.claim(10, Number.MAX_SAFE_INTEGER)!;
    const responder = dropResponder(consumer, { holdDropped: true });
    const push = track(() => producer.push(eventOfSize('new', SMALL)));
    await until(() => responder.held.length === 1, 'the drop request to be answered');
    await turns();
    expect(push.state, 'the dropped record cannot be released before the ones in flight').toBe('pending');
    // The in-flight records are untouched by the drop.
    expect(readRange(consumer.ring, inFlight).map((r) => r.id)).toEqual(oldIds(10));
    consumer.release(inFlight.end, inFlight.records);
    const dropped = responder.held.shift()!;
    consumer.release(dropped.end, dropped.records);
    await expect(watchdog(push.promise, 10_000, 'push after in-order release')).resolves.toBe(true);
    await responder.stop();
    expect(responder.dropped).toEqual(['old-10']);
    expect(queue.stats().droppedOldest).toBe(1);
    expect(drain(consumer).map((r) => r.id)).toEqual([...oldIds(64).slice(11), 'new']);
  });

  it('when every record is in flight the new record is dropped instead and counted as droppedNewest', async () => {
    const { queue, consumer, producer } = await fullQueue('drop-oldest');
    const inFlight = consumer.claim(lapRecords(consumer.ring), Number.MAX_SAFE_INTEGER)!;
    expect(inFlight.records).toBe(64);
    const responder = dropResponder(consumer);
    await expect(
      watchdog(producer.push(eventOfSize('new', SMALL)), 10_000, 'push with all in flight'),
    ).resolves.toBe(false);
    await responder.stop();
    expect(responder.answers).toBeGreaterThanOrEqual(1);
    expect(responder.dropped).toEqual([]);
    const stats = queue.stats();
    expect(stats.droppedNewest).toBe(1);
    expect(stats.droppedOldest).toBe(0);
    expect(readRange(consumer.ring, inFlight).map((r) => r.id)).toEqual(oldIds(64));
    consumer.release(inFlight.end, inFlight.records);
    expect(consumer.claim(lapRecords(consumer.ring), Number.MAX_SAFE_INTEGER)).toBeNull();
    expect(queue.rings[0]!.usedBytes()).toBe(0);
  });
});

describe('closing the queue', () => {
  it('every push after close fails with SLUICE_CLOSED and writes nothing', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: CAPACITY }));
    open.push(queue);
    queue.close();
    expect(queue.closed).toBe(true);
    const sync = new QueueProducer(queue);
    const async = new AsyncQueueProducer(queue);
    const attempts: (() => unknown)[] = [
      () => sync.push({ payload: 1 }),
      () => sync.pushMany([{ payload: 1 }, { payload: 2 }]),
      () => sync.pushRaw('{"a":1}'),
      () => async.push({ payload: 1 }),
      () => async.pushMany([{ payload: 1 }]),
      () => async.pushRaw('{"a":1}'),
      () => async.pushRawMany(['{"a":1}']),
    ];
    for (const attempt of attempts) {
      await expect((async () => attempt())()).rejects.toMatchObject({ code: 'SLUICE_CLOSED' });
    }
    expect(queue.stats().recordsWritten).toBe(0);
    expect(queue.rings[0]!.usedBytes()).toBe(0);
  });

  for (const [policy, timeout] of [
    ['block', 0],
    ['reject', 60_000],
    ['drop-oldest', 0],
  ] as const) {
    it(`a main-thread producer waiting on a full ring under '${policy}' rejects with SLUICE_CLOSED when the queue closes`, async () => {
      const { queue, producer } = await fullQueue(policy, timeout);
      const push = track(() => producer.push(eventOfSize('new', SMALL)));
      await turns();
      expect(push.state).toBe('pending');
      expect(producersWaiting(queue)).toBe(1);
      queue.close();
      await expect(watchdog(push.promise, 10_000, 'waiting push after close')).rejects.toMatchObject({
        code: 'SLUICE_CLOSED',
      });
      expect(producersWaiting(queue)).toBe(0);
      expect(queue.stats().recordsWritten).toBe(64);
    });
  }

  it('a producer thread blocked in Atomics.wait on a full ring gets SLUICE_CLOSED when the queue closes', async () => {
    const { queue } = await fullQueue('block');
    const thread = startFixture<ProducerResult>('ring-producer', {
      handle: queue.handle,
      producerIndex: 0,
      count: 1,
      seed: 1,
      keyCount: 0,
      maxPad: 0,
    });
    try {
      await until(() => producersWaiting(queue) === 1, 'the producer thread to block');
      queue.close();
      const result = await watchdog(thread.result, 10_000, 'blocked producer thread after close');
      expect(result.accepted).toBe(0);
      expect(result.error?.code).toBe('SLUICE_CLOSED');
      expect(await thread.exited).toBe(0);
      expect(queue.stats().producerWaits).toBe(1);
      expect(queue.stats().recordsWritten).toBe(64);
    } finally {
      await thread.worker.terminate();
    }
  });
});
