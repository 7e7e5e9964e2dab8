/**
 * Test-only helpers shared by the queue and codec suites: events of an exact record size, reading a
 * ring back, watching a promise's state without timing, and running fixture threads with a watchdog.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SluiceEvent } from '../../src/codec/event.js';
import { REC_COMMIT, REC_SIZE, RECORD_ALIGN, WRAP_MARKER } from '../../src/queue/layout.js';
import { payloadText, readRecord } from '../../src/queue/record-codec.js';
import type { Ring } from '../../src/queue/ring-buffer.js';
import type { RingConsumer, RingRange } from '../../src/queue/ring-consumer.js';
import { forEachRecord } from '../../src/queue/ring-reader.js';

/** Bytes before the id in every record: the ring's 16-byte header plus the codec's 32-byte header. */
export const RECORD_OVERHEAD = 48;

/** Rounds up to the ring's record alignment, independently of the code under test. */
export function alignUp(bytes: number): number {
  return Math.ceil(bytes / RECORD_ALIGN) * RECORD_ALIGN;
}

/** The smallest record `eventOfSize` can build for an id of `idLength` ASCII characters. */
export function minRecordSize(idLength: number): number {
  return alignUp(RECORD_OVERHEAD + idLength + 2);
}

/** A deterministic payload string of `length` ASCII characters derived from the id. */
export function payloadFor(id: string, length: number): string {
  const unit = `${id}|`;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/**
 * An event (ASCII id, no key, JSON string payload) whose record is exactly `size` bytes, header
 * included: 48 header bytes + id + the payload's JSON (its characters plus two quotes).
 */
export function eventOfSize(id: string, size: number): SluiceEvent {
  if (size % RECORD_ALIGN !== 0) throw new Error(`size ${size} is not a multiple of ${RECORD_ALIGN}`);
  const length = size - RECORD_OVERHEAD - id.length - 2;
  if (length < 0) throw new Error(`size ${size} is too small for id ${id}`);
  return { id, payload: payloadFor(id, length) };
}

/** One record as read back from the ring. */
export interface ReadBack {
  id: string;
  key: string | undefined;
  payload: unknown;
  /** Data offset of the record in the ring. */
  at: number;
}

/**
 * Data offsets of the records in [start, end), walked by the test itself rather than by
 * `forEachRecord`, and defensively: a corrupt size word fails the test instead of looping forever.
 */
export function walkRange(ring: Ring, start: number, end: number): number[] {
  const offsets: number[] = [];
  let pos = start >>> 0;
  const stop = end >>> 0;
  while (pos !== stop) {
    const left = (stop - pos) >>> 0;
    const at = pos & ring.mask;
    if (ring.words[(at + REC_COMMIT) >> 2] === WRAP_MARKER) {
      const padding = ring.capacity - at;
      if (padding > left) throw new Error(`wrap padding at ${at} runs past the range end`);
      pos = (pos + padding) >>> 0;
      continue;
    }
    const size = ring.words[(at + REC_SIZE) >> 2]!;
    if (size < RECORD_OVERHEAD || size % RECORD_ALIGN !== 0 || size > left || at + size > ring.capacity) {
      throw new Error(`corrupt record at offset ${at}: size word ${size}, ${left} bytes left in range`);
    }
    offsets.push(at);
    pos = (pos + size) >>> 0;
  }
  return offsets;
}

/** Reads every record of a claimed range, in ring order; `forEachRecord` must agree on the offsets. */
export function readRange(ring: Ring, range: RingRange): ReadBack[] {
  const offsets = walkRange(ring, range.start, range.end);
  const visited: number[] = [];
  const count = forEachRecord(ring, range.start, range.end, (at) => visited.push(at));
  if (count !== offsets.length || visited.some((at, i) => at !== offsets[i])) {
    throw new Error(`forEachRecord visited [${visited}] but the range holds records at [${offsets}]`);
  }
  return offsets.map((at) => {
    const view = readRecord(ring, at);
    return { id: view.id, key: view.key, payload: JSON.parse(payloadText(ring, view)), at };
  });
}

/**
 * More records than one lap of the ring can hold (every record is over 48 bytes). Tests claim "all"
 * with this bound rather than MAX_SAFE_INTEGER: a claim that wrongly runs on past a full lap then
 * returns duplicates, which the test reports, instead of looping forever where no timeout can fire.
 */
export function lapRecords(ring: Ring): number {
  return Math.floor(ring.capacity / RECORD_OVERHEAD);
}

/** Claims, reads and releases everything published, returning the records in ring order. */
export function drain(consumer: RingConsumer): ReadBack[] {
  const out: ReadBack[] = [];
  for (;;) {
    const range = consumer.claim(lapRecords(consumer.ring), Number.MAX_SAFE_INTEGER);
    if (range === null) return out;
    out.push(...readRange(consumer.ring, range));
    consumer.release(range.end, range.records);
  }
}

/** A promise's state, observable synchronously. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  readonly state: 'pending' | 'fulfilled' | 'rejected';
  readonly value: T | undefined;
  readonly error: unknown;
}

/** Wraps a promise (or a call that may throw synchronously) so its state can be inspected. */
export function track<T>(start: () => Promise<T>): Tracked<T> {
  const tracked = { state: 'pending', value: undefined, error: undefined } as {
    promise: Promise<T>;
    state: 'pending' | 'fulfilled' | 'rejected';
    value: T | undefined;
    error: unknown;
  };
  tracked.promise = (async () => start())().then(
    (value) => {
      tracked.state = 'fulfilled';
      tracked.value = value;
      return value;
    },
    (error: unknown) => {
      tracked.state = 'rejected';
      tracked.error = error;
      throw error;
    },
  );
  // The test inspects `error` itself; an unobserved rejection must not fail the run.
  tracked.promise.catch(() => {});
  return tracked;
}

/**
 * Lets every queued microtask and macrotask run (including `Atomics.waitAsync` resolutions that a
 * notify has already scheduled), so a promise that could settle now has settled.
 */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Awaits event-loop turns until `condition()` holds; fails after `limit` turns. */
export async function until(condition: () => boolean, what: string, limit = 200_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * Settles with `promise`, or rejects once `ms` have passed: a failure detector for code that
 * might hang, never a way to wait for something to happen.
 */
export async function watchdog<T>(
  promise: Promise<T>,
  ms: number,
  what: string | (() => string),
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const description = typeof what === 'string' ? what : what();
      onTimeout?.();
      reject(new Error(`${description} did not finish within ${ms} ms (hang)`));
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** URL of a compiled fixture thread; fails clearly when the build has not been run. */
export function fixtureUrl(name: string): URL {
  const url = new URL(`../../dist/test/fixtures/${name}.js`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`${fileURLToPath(url)} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
  }
  return url;
}

/** A fixture thread whose single result message (or error/early exit) is a promise. */
export interface FixtureThread<T> {
  readonly worker: Worker;
  /** Resolves with the first message whose `type` is 'result'; rejects on error or exit first. */
  readonly result: Promise<T>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
}

export function startFixture<T>(name: string, workerData: unknown): FixtureThread<T> {
  const worker = new Worker(fixtureUrl(name), { workerData });
  const exited = once(worker, 'exit').then(([code]) => code as number);
  const result = new Promise<T>((resolve, reject) => {
    worker.on('message', (message: { type?: string; value?: T }) => {
      if (message?.type === 'result') resolve(message.value as T);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`fixture ${name} exited (code ${code}) before its result`)));
  });
  result.catch(() => {});
  return { worker, result, exited };
}
