/**
 * Every public push method refuses an argument of the wrong shape with InvalidEventError naming
 * the argument — the pipeline's and the async producer's as a rejected promise, the blocking
 * producer's as a throw — and writes nothing of the call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { InvalidEventError } from '../../src/errors.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';

/** How a call failed: `sync` when it threw instead of returning a rejected promise. */
async function failureOf(call: () => unknown): Promise<{ sync: boolean; error: unknown }> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return { sync: true, error };
  }
  try {
    await result;
  } catch (error) {
    return { sync: false, error };
  }
  return { sync: false, error: undefined };
}

type Pushes = {
  push(event: unknown): unknown;
  pushMany(events: unknown): unknown;
  pushRaw(bytes: unknown, key?: unknown): unknown;
  pushRawMany(lines: unknown, key?: unknown): unknown;
  pushRawRecords(records: unknown): unknown;
};

/** [call, argument named, the call] */
const wrongShapes: [string, string, (p: Pushes) => unknown][] = [
  ['pushRawRecords("nope")', 'records', (p) => p.pushRawRecords('nope')],
  ['pushRawRecords(undefined)', 'records', (p) => p.pushRawRecords(undefined)],
  ['pushRawRecords([null])', 'records[0]', (p) => p.pushRawRecords([null])],
  ['pushRawRecords([{ data: "{}" }, 7])', 'records[1]', (p) => p.pushRawRecords([{ data: '{}' }, 7])],
  ['pushMany("nope")', 'events', (p) => p.pushMany('nope')],
  ['pushMany({ length: 1 })', 'events', (p) => p.pushMany({ length: 1 })],
  ['pushRawMany("a line")', 'lines', (p) => p.pushRawMany('a line')],
  ['pushRawMany(null)', 'lines', (p) => p.pushRawMany(null)],
  // A sparse array's hole is an element like any other, and refused as one.
  ['pushMany([event, <hole>, event])', 'events[1]', (p) => p.pushMany(sparse(event, 3, 1))],
  ['pushMany([event, null])', 'events[1]', (p) => p.pushMany([event(0), null])],
  ['pushRawMany([line, <hole>, line])', 'lines[1]', (p) => p.pushRawMany(sparse(() => '{}', 3, 1))],
  ['pushRawMany([line, 7])', 'lines[1]', (p) => p.pushRawMany(['{}', 7])],
  [
    'pushRawRecords([record, <hole>, record])',
    'records[1]',
    (p) => p.pushRawRecords(sparse(() => ({ data: '{}' }), 3, 1)),
  ],
];

function event(i: number): { id: string; payload: { i: number } } {
  return { id: `e${i}`, payload: { i } };
}

/** `length` elements made by `make`, with a hole at index `hole`. */
function sparse<T>(make: (i: number) => T, length: number, hole: number): T[] {
  const values = Array.from({ length }, (_, i) => make(i));
  delete values[hole];
  return values;
}

/** A pipeline whose ring a few hundred events fill: a call larger than that waits for room. */
function smallPipeline(): Promise<Pipeline> {
  return createPipeline({
    queue: { capacityBytes: 4096 },
    workers: { min: 1, max: 1 },
    sink: { type: 'null' },
    deadLetter: { type: 'null' },
  });
}

describe('push argument shapes', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await createPipeline({
      workers: { min: 1, max: 1 },
      sink: { type: 'null' },
      deadLetter: { type: 'null' },
    });
  });
  afterAll(async () => {
    await pipeline.close();
  });

  it.each(wrongShapes)(
    'pipeline.%s returns a promise rejected with SLUICE_INVALID_EVENT naming %s',
    async (call, argument, make) => {
      const before = pipeline.stats().queue.recordsWritten;
      const { sync, error } = await failureOf(() => make(pipeline as unknown as Pushes));
      expect(sync).toBe(false);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_EVENT', field: argument });
      expect((error as Error).message).toContain(call.slice(0, call.indexOf('(')));
      expect((error as Error).message).toContain(argument);
      expect(pipeline.stats().queue.recordsWritten).toBe(before);
    },
  );

  it('writes nothing of a pushMany whose hole lies beyond what the ring can take at once', async () => {
    const small = await smallPipeline();
    try {
      // 200 events are several rings' worth: the call would have to wait for room partway.
      const events = sparse(event, 200, 150);
      const error = await small.pushMany(events).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_EVENT', field: 'events[150]' });
      await small.drained();
      expect(small.stats().queue.recordsWritten).toBe(0);
      expect(small.stats().written).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('refuses raw bytes whose ArrayBuffer was transferred, and the pipeline goes on: every later event written', async () => {
    const small = await smallPipeline();
    try {
      const bytes = new TextEncoder().encode('{"id":"gone"}');
      const view = bytes.subarray(0, 8);
      structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
      const pushes: (() => Promise<unknown>)[] = [
        () => small.pushRaw(view),
        () => small.pushRawMany([view]),
        () => small.pushRawRecords([{ data: view }]),
      ];
      for (const push of pushes) {
        const error = await Promise.resolve()
          .then(push)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidEventError);
        expect((error as Error).message).toContain('ArrayBuffer was transferred (detached)');
      }
      // Nothing was reserved for them: a hole in the ring would hold back everything after it.
      for (let i = 0; i < 300; i++) await small.push(event(i));
      await small.drained();
      expect(small.stats().written).toBe(300);
      expect(small.stats().queue.recordsWritten).toBe(300);
    } finally {
      await small.close({ timeoutMs: 5000 });
    }
  });

  it.each(wrongShapes)(
    'AsyncQueueProducer.%s rejects with SLUICE_INVALID_EVENT naming %s',
    async (_call, argument, make) => {
      const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
      const { sync, error } = await failureOf(() => make(new AsyncQueueProducer(queue) as unknown as Pushes));
      expect(sync).toBe(false);
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_EVENT', field: argument });
      expect(queue.stats().recordsWritten).toBe(0);
    },
  );

  it.each(wrongShapes)(
    'QueueProducer.%s throws SLUICE_INVALID_EVENT naming %s',
    async (_call, argument, make) => {
      const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096 }));
      const { sync, error } = await failureOf(() => make(new QueueProducer(queue) as unknown as Pushes));
      expect(sync).toBe(true);
      expect(error).toBeInstanceOf(InvalidEventError);
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_EVENT', field: argument });
      expect(queue.stats().recordsWritten).toBe(0);
    },
  );
});
