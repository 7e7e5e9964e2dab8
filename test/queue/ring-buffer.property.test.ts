/**
 * Model-based test of one ring: random sequences of pushes (single records and groups, from the
 * synchronous and the async producer), claims and releases, checked after every step against a
 * plain-array model of what must be queued, in flight and free.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import type { SluiceError } from '../../src/errors.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { READ_CURSOR, RELEASE_CURSOR, RESERVE_CURSOR } from '../../src/queue/layout.js';
import { AsyncQueueProducer, QueueProducer } from '../../src/queue/producer.js';
import type { FullPolicy } from '../../src/queue/queue-options.js';
import type { Ring } from '../../src/queue/ring-buffer.js';
import { RingConsumer, type RingRange } from '../../src/queue/ring-consumer.js';
import {
  eventOfSize,
  lapRecords,
  payloadFor,
  RECORD_OVERHEAD,
  type ReadBack,
  readRange,
} from './ring-harness.js';

const ID_LENGTH = 7;
const MIN_SIZE = 64; // 48 header + 7 id + 2 quotes, aligned

interface Rec {
  id: string;
  size: number;
}

/** Records one push call offered, of which `accepted` went into the ring in order. */
interface Segment {
  candidates: Rec[];
  accepted: number;
  /** Under `reject` a failed call stops at the first record that did not fit: a prefix went in. */
  prefixOnly: boolean;
  /** Index of the next candidate that may still be read. */
  next: number;
  matched: number;
}

interface ClaimedRange {
  range: RingRange;
  records: Rec[];
  offsets: number[];
}

interface Model {
  readonly capacity: number;
  readonly maxRecordBytes: number;
  readonly policy: FullPolicy;
  /** Pushed and accepted, not yet claimed, oldest first. */
  segments: Segment[];
  /** Claimed and not yet released, oldest first. */
  inFlight: ClaimedRange[];
  /** Where the next claimed range must start (unsigned cursor). */
  nextStart: number;
  seq: number;
  accepted: number;
  claimed: number;
  released: number;
  droppedNewest: number;
  rejected: number;
}

interface Real {
  queue: EventQueue;
  ring: Ring;
  consumer: RingConsumer;
  sync: QueueProducer;
  async: AsyncQueueProducer;
}

function unclaimed(model: Model): number {
  return model.segments.reduce((sum, s) => sum + s.accepted - s.matched, 0);
}

function newRec(model: Model, size: number): Rec {
  const id = `r${String(model.seq++).padStart(ID_LENGTH - 1, '0')}`;
  return { id, size };
}

/** Takes the model's next record for the one read from the ring, failing on any FIFO breach. */
function matchNext(model: Model, read: ReadBack): Rec {
  const segment = model.segments[0];
  if (segment === undefined) throw new Error(`read ${read.id} but the model holds nothing unclaimed`);
  let j = segment.next;
  if (segment.prefixOnly) {
    if (segment.candidates[j]?.id !== read.id) {
      throw new Error(`read ${read.id}, expected ${segment.candidates[j]?.id} (prefix of a rejected group)`);
    }
  } else {
    while (j < segment.candidates.length && segment.candidates[j]!.id !== read.id) j++;
    if (j === segment.candidates.length) {
      const left = segment.candidates.slice(segment.next).map((c) => c.id);
      throw new Error(`read ${read.id} out of order or unknown; expected one of [${left.join(', ')}]`);
    }
  }
  const rec = segment.candidates[j]!;
  segment.next = j + 1;
  segment.matched++;
  if (segment.matched === segment.accepted) model.segments.shift();
  return rec;
}

/** Every byte of the record is what was pushed: id, payload and hence its size. */
function expectIntact(read: ReadBack, rec: Rec): void {
  expect(read.id).toBe(rec.id);
  expect(read.key).toBeUndefined();
  expect(read.payload).toBe(payloadFor(rec.id, rec.size - RECORD_OVERHEAD - ID_LENGTH - 2));
}

function reserveCursor(ring: Ring): number {
  return Atomics.load(ring.control, RESERVE_CURSOR) >>> 0;
}

function releaseCursor(ring: Ring): number {
  return Atomics.load(ring.control, RELEASE_CURSOR) >>> 0;
}

/** Bytes the ring needs for a group of `bytes` at the current reserve cursor: padding to the lap end included. */
function bytesNeeded(ring: Ring, bytes: number): number {
  const toEnd = ring.capacity - (reserveCursor(ring) & ring.mask);
  return bytes > toEnd ? toEnd + bytes : bytes;
}

/** Invariants that hold after every command. */
function checkInvariants(model: Model, real: Real): void {
  const { ring, queue } = real;
  const used = ring.usedBytes();
  expect(used).toBeGreaterThanOrEqual(0);
  expect(used).toBeLessThanOrEqual(model.capacity);
  const inFlightBytes = model.inFlight.reduce((sum, c) => sum + c.records.reduce((s, r) => s + r.size, 0), 0);
  expect(used).toBeGreaterThanOrEqual(inFlightBytes);
  if (model.inFlight.length === 0 && unclaimed(model) === 0) expect(used).toBe(0);
  expect(real.consumer.readCursor).toBe(model.nextStart);
  const stats = queue.stats();
  expect(stats.recordsWritten).toBe(model.accepted);
  expect(stats.recordsClaimed).toBe(model.claimed);
  expect(stats.recordsReleased).toBe(model.released);
  expect(stats.depthRecords).toBe(model.accepted - model.released);
  expect(stats.depthBytes).toBe(used);
  expect(stats.droppedNewest).toBe(model.droppedNewest);
  expect(stats.droppedOldest).toBe(0);
  expect(stats.rejected).toBe(model.rejected);
  expect(stats.producerWaits).toBe(0);
}

type SizeSpec = { kind: 'fixed'; size: number } | { kind: 'around-end'; delta: number };

function resolveSize(model: Model, ring: Ring, spec: SizeSpec): number {
  let size: number;
  if (spec.kind === 'fixed') size = spec.size;
  else size = ring.capacity - (reserveCursor(ring) & ring.mask) + spec.delta * 8;
  return Math.min(model.maxRecordBytes, Math.max(MIN_SIZE, size - (size % 8)));
}

const sizeArb: fc.Arbitrary<SizeSpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .integer({ min: MIN_SIZE / 8, max: 40 })
      .map((n) => ({ kind: 'fixed' as const, size: n * 8 })),
  },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: MIN_SIZE / 8, max: 4096 / 8 })
      .map((n) => ({ kind: 'fixed' as const, size: n * 8 })),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: -2, max: 2 }).map((delta) => ({ kind: 'around-end' as const, delta })),
  },
);

class PushOne implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly spec: SizeSpec,
    readonly viaAsync: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const { ring } = real;
    const rec = newRec(model, resolveSize(model, ring, this.spec));
    const usedBefore = ring.usedBytes();
    const needed = bytesNeeded(ring, rec.size);
    const fits = usedBefore + needed <= model.capacity;
    const event = eventOfSize(rec.id, rec.size);
    let accepted: boolean;
    try {
      accepted = this.viaAsync ? await real.async.push(event) : real.sync.push(event);
    } catch (error) {
      expect((error as SluiceError).code).toBe('SLUICE_QUEUE_FULL');
      expect(model.policy).toBe('reject');
      accepted = false;
      model.rejected++;
    }
    if (!accepted && model.policy === 'drop-newest') model.droppedNewest++;
    // A record goes in exactly when it fits, padding to the end of the lap included.
    expect(accepted).toBe(fits);
    if (accepted) {
      model.segments.push({ candidates: [rec], accepted: 1, prefixOnly: false, next: 0, matched: 0 });
      model.accepted++;
      expect(ring.usedBytes()).toBe(usedBefore + needed);
    } else {
      expect(ring.usedBytes()).toBe(usedBefore);
    }
    checkInvariants(model, real);
  }
  toString = () => `push(${JSON.stringify(this.spec)}${this.viaAsync ? ', async' : ''})`;
}

class PushMany implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly specs: SizeSpec[],
    readonly viaAsync: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const { ring, queue } = real;
    const recs = this.specs.map((spec) => newRec(model, resolveSize(model, ring, spec)));
    const total = recs.reduce((sum, r) => sum + r.size, 0);
    const usedBefore = ring.usedBytes();
    const oneGroupFits =
      total <= ring.maxGroupBytes && usedBefore + bytesNeeded(ring, total) <= model.capacity;
    const writtenBefore = queue.stats().recordsWritten;
    const events = recs.map((r) => eventOfSize(r.id, r.size));
    let accepted: number;
    let threw = false;
    try {
      accepted = this.viaAsync ? await real.async.pushMany(events) : real.sync.pushMany(events);
    } catch (error) {
      expect((error as SluiceError).code).toBe('SLUICE_QUEUE_FULL');
      expect(model.policy).toBe('reject');
      threw = true;
      model.rejected++;
      accepted = queue.stats().recordsWritten - writtenBefore;
      expect(accepted).toBeLessThan(recs.length);
    }
    expect(queue.stats().recordsWritten - writtenBefore).toBe(accepted);
    if (model.policy === 'drop-newest') model.droppedNewest += recs.length - accepted;
    else if (!threw) expect(accepted).toBe(recs.length);
    // A batch that fits as one publish group is never cut.
    if (oneGroupFits) expect(accepted).toBe(recs.length);
    if (accepted > 0) {
      model.segments.push({
        candidates: recs,
        accepted,
        prefixOnly: model.policy === 'reject',
        next: 0,
        matched: 0,
      });
      model.accepted += accepted;
    }
    expect(ring.usedBytes()).toBeGreaterThanOrEqual(usedBefore + accepted * MIN_SIZE);
    checkInvariants(model, real);
  }
  toString = () => `pushMany(${this.specs.length} records${this.viaAsync ? ', async' : ''})`;
}

class Claim implements fc.AsyncCommand<Model, Real> {
  /** `'lap'`: as many records as a whole lap could hold, i.e. everything there is. */
  constructor(
    readonly records: number | 'lap',
    readonly maxBytes: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const { consumer, ring } = real;
    const maxRecords = this.records === 'lap' ? lapRecords(ring) : this.records;
    const waiting = unclaimed(model);
    const range = consumer.claim(maxRecords, this.maxBytes);
    if (waiting === 0) {
      expect(range).toBeNull();
      checkInvariants(model, real);
      return;
    }
    expect(range).not.toBeNull();
    const r = range!;
    expect(r.start).toBe(model.nextStart);
    expect(r.records).toBeGreaterThanOrEqual(1);
    expect(r.records).toBeLessThanOrEqual(maxRecords);
    if (this.maxBytes === Number.MAX_SAFE_INTEGER) expect(r.records).toBe(Math.min(maxRecords, waiting));
    const reads = readRange(ring, r);
    expect(reads).toHaveLength(r.records);
    const recs = reads.map((read) => {
      const rec = matchNext(model, read);
      expectIntact(read, rec);
      return rec;
    });
    if (recs.length > 1) expect(recs.reduce((sum, x) => sum + x.size, 0)).toBeLessThanOrEqual(this.maxBytes);
    model.inFlight.push({ range: r, records: recs, offsets: reads.map((x) => x.at) });
    model.nextStart = r.end >>> 0;
    model.claimed += r.records;
    checkInvariants(model, real);
  }
  toString = () => `claim(${this.records}, ${this.maxBytes})`;
}

class Release implements fc.AsyncCommand<Model, Real> {
  check = (model: Readonly<Model>) => model.inFlight.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const { consumer, ring } = real;
    const oldest = model.inFlight.shift()!;
    // Claimed records must still be intact: no producer may have written over space in flight.
    const reads = readRange(ring, oldest.range);
    expect(reads.map((x) => x.at)).toEqual(oldest.offsets);
    reads.forEach((read, i) => {
      expectIntact(read, oldest.records[i]!);
    });
    const usedBefore = ring.usedBytes();
    const freed = (oldest.range.end - releaseCursor(ring)) >>> 0;
    consumer.release(oldest.range.end, oldest.range.records);
    expect(releaseCursor(ring)).toBe(oldest.range.end >>> 0);
    expect(ring.usedBytes()).toBe(usedBefore - freed);
    model.released += oldest.range.records;
    checkInvariants(model, real);
  }
  toString = () => 'release()';
}

const commandArbs = [
  fc.tuple(sizeArb, fc.boolean()).map(([spec, viaAsync]) => new PushOne(spec, viaAsync)),
  fc
    .tuple(fc.array(sizeArb, { minLength: 1, maxLength: 12 }), fc.boolean())
    .map(([specs, viaAsync]) => new PushMany(specs, viaAsync)),
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant('lap' as const)),
      fc.oneof(fc.integer({ min: 1, max: 16384 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    )
    .map(([records, bytes]) => new Claim(records, bytes)),
  fc.constant(new Release()),
  fc.constant(new Release()),
];

const setupArb = fc.record({
  capacity: fc.constantFrom(4096, 8192, 16384),
  policy: fc.constantFrom<FullPolicy>('drop-newest', 'reject'),
  // Cursors are kept modulo 2^32: start some runs just below the wrap of the cursor space.
  startCursor: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 4096 }).map((k) => 2 ** 32 - k * 8),
  ),
});

describe('ring buffer against an array model', () => {
  it('any sequence of pushes, claims and releases keeps FIFO order, intact records, contiguous ranges and bounded usage', async () => {
    await fc.assert(
      fc.asyncProperty(
        setupArb,
        fc.commands(commandArbs, { maxCommands: 100, size: 'max' }),
        async (setup, commands) => {
          const queue = EventQueue.create(
            resolveQueueOptions({ capacityBytes: setup.capacity, policy: setup.policy }),
          );
          const ring = queue.rings[0]!;
          // A fresh ring whose cursors sit where a long-running one's would after that much traffic.
          for (const word of [RESERVE_CURSOR, RELEASE_CURSOR, READ_CURSOR]) {
            Atomics.store(ring.control, word, setup.startCursor | 0);
          }
          const real: Real = {
            queue,
            ring,
            consumer: new RingConsumer(ring),
            sync: new QueueProducer(queue),
            async: new AsyncQueueProducer(queue),
          };
          const model: Model = {
            capacity: setup.capacity,
            maxRecordBytes: queue.options.maxRecordBytes,
            policy: setup.policy,
            segments: [],
            inFlight: [],
            nextStart: setup.startCursor >>> 0,
            seq: 0,
            accepted: 0,
            claimed: 0,
            released: 0,
            droppedNewest: 0,
            rejected: 0,
          };
          await fc.asyncModelRun(() => ({ model, real }), commands);
          // Finally drain: release what is in flight, then claim and release everything left.
          while (model.inFlight.length > 0) await new Release().run(model, real);
          while (unclaimed(model) > 0) {
            await new Claim('lap', Number.MAX_SAFE_INTEGER).run(model, real);
            await new Release().run(model, real);
          }
          expect(real.consumer.claim(lapRecords(ring), Number.MAX_SAFE_INTEGER)).toBeNull();
          expect(ring.usedBytes()).toBe(0);
          expect(queue.stats().recordsReleased).toBe(model.accepted);
        },
      ),
      { numRuns: Number(process.env.RING_RUNS ?? 150) },
    );
  });

  it('a record exactly as large as the space left before the end of the lap needs no padding', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4096, policy: 'reject' }));
    const ring = queue.rings[0]!;
    const consumer = new RingConsumer(ring);
    const producer = new QueueProducer(queue);
    // 3 × 1024 leaves 1024 to the end; release them so only the lap end is left to fill.
    producer.pushMany([0, 1, 2].map((i) => eventOfSize(`a${i}`, 1024)));
    const first = consumer.claim(10, Number.MAX_SAFE_INTEGER)!;
    consumer.release(first.end, first.records);
    expect(producer.push(eventOfSize('end', 1024))).toBe(true);
    expect(reserveCursor(ring)).toBe(4096);
    expect(producer.push(eventOfSize('next', 64))).toBe(true);
    const range = consumer.claim(10, Number.MAX_SAFE_INTEGER)!;
    expect(readRange(ring, range).map((x) => [x.id, x.at])).toEqual([
      ['end', 3072],
      ['next', 0],
    ]);
  });

  it('a record one alignment unit larger than the space left wraps to offset 0 and pads the rest of the lap', async () => {
    const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 8192, policy: 'reject' }));
    const ring = queue.rings[0]!;
    const consumer = new RingConsumer(ring);
    const producer = new QueueProducer(queue);
    // 7 × 1024 leaves 1024 to the end of the lap.
    expect(producer.pushMany([0, 1, 2, 3, 4, 5, 6].map((i) => eventOfSize(`a${i}`, 1024)))).toBe(7);
    const first = consumer.claim(10, Number.MAX_SAFE_INTEGER)!;
    expect(first.records).toBe(7);
    consumer.release(first.end, first.records);
    expect(producer.push(eventOfSize('wrapped', 1032))).toBe(true);
    // 1024 bytes of padding plus the 1032-byte record.
    expect(ring.usedBytes()).toBe(2056);
    const range = consumer.claim(10, Number.MAX_SAFE_INTEGER)!;
    expect(range.records).toBe(1);
    expect(readRange(ring, range).map((x) => [x.id, x.at])).toEqual([['wrapped', 0]]);
    consumer.release(range.end, range.records);
    expect(ring.usedBytes()).toBe(0);
  });
});
