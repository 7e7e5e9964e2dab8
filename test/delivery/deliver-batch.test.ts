import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { type DeliveryHooks, deliverBatch } from '../../src/delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../../src/delivery/retry-options.js';
import { DEFAULT_RETRY_OPTIONS } from '../../src/delivery/retry-options.js';
import { SinkError } from '../../src/errors.js';
import type { Sink, WriteOutcome } from '../../src/sinks/sink.js';

/** What the fake sink does on one attempt: resolve (optionally naming failed indexes) or throw. */
type Step = (records: readonly SinkRecord[], attempt: number) => WriteOutcome | undefined;

/** A sink that follows a script, one step per write call, and records what each call received. */
class ScriptedSink implements Sink {
  readonly idempotent = true;
  readonly calls: string[][] = [];
  readonly #steps: Step[];
  readonly #clock: FakeClock | undefined;
  readonly #writeMs: number;

  constructor(steps: Step[], clock?: FakeClock, writeMs = 0) {
    this.#steps = steps;
    this.#clock = clock;
    this.#writeMs = writeMs;
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async write(records: readonly SinkRecord[]): Promise<WriteOutcome | undefined> {
    this.calls.push(records.map((r) => r.id));
    const attempt = this.calls.length;
    // Past the script: every further write succeeds.
    const step = this.#steps[attempt - 1] ?? (() => undefined);
    if (this.#clock) this.#clock.now += this.#writeMs;
    return step(records, attempt);
  }
}

/** A clock the test owns: sleeping advances it, nothing really waits. */
class FakeClock {
  now: number;
  readonly sleeps: number[] = [];

  constructor(start = 1_700_000_000_000) {
    this.now = start;
  }

  hooks(random: () => number = () => 0.5): DeliveryHooks {
    return {
      now: () => this.now,
      random,
      sleep: async (ms) => {
        this.sleeps.push(ms);
        this.now += ms;
      },
    };
  }
}

const transient = (message = 'busy', retryAfterMs?: number) =>
  new SinkError(
    message,
    retryAfterMs === undefined ? { retryable: true } : { retryable: true, retryAfterMs },
  );
const permanent = (message = 'refused') => new SinkError(message, { retryable: false });

const fail =
  (error: unknown): Step =>
  () => {
    throw error;
  };
const failIndexes =
  (entries: [number, unknown][]): Step =>
  () => ({ failed: entries.map(([index, error]) => ({ index, error })) });

function records(count: number): SinkRecord[] {
  return Array.from({ length: count }, (_, i) => ({ id: `r${i}`, key: `k${i % 2}`, payload: { i } }));
}

function retry(overrides: Partial<ResolvedRetryOptions> = {}): ResolvedRetryOptions {
  return { ...DEFAULT_RETRY_OPTIONS, initialDelayMs: 10, maxDelayMs: 1000, ...overrides };
}

describe('deliverBatch', () => {
  it('retries a batch that failed as a whole, as a whole, until it is written', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([fail(transient()), fail(transient())]);
    const batch = records(5);
    const report = await deliverBatch(
      sink,
      batch,
      retry(),
      clock.hooks(() => 0.5),
    );
    const all = batch.map((r) => r.id);
    expect(sink.calls).toEqual([all, all, all]);
    expect(report).toMatchObject({
      written: 5,
      deadLetters: [],
      retries: 2,
      retryableErrors: 2,
      permanentErrors: 0,
    });
    // Full jitter with random() = 0.5: half of 10 ms, then half of 20 ms.
    expect(clock.sleeps).toEqual([5, 10]);
  });

  it('retries only the records that failed on their own, in their batch order', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([
      failIndexes([
        [1, transient()],
        [3, transient()],
        [4, transient()],
      ]),
      failIndexes([[1, transient()]]), // index 1 of [r1, r3, r4]: r3
    ]);
    const report = await deliverBatch(sink, records(6), retry(), clock.hooks());
    expect(sink.calls).toEqual([['r0', 'r1', 'r2', 'r3', 'r4', 'r5'], ['r1', 'r3', 'r4'], ['r3']]);
    expect(report).toMatchObject({ written: 6, deadLetters: [], retries: 2, retryableErrors: 2 });
  });

  it('dead-letters records the sink rejects permanently as sink-rejected, without retrying them', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([
      failIndexes([
        [0, permanent('bad row 0')],
        [2, transient()],
      ]),
    ]);
    const batch = records(3);
    const report = await deliverBatch(sink, batch, retry(), clock.hooks());
    expect(sink.calls).toEqual([['r0', 'r1', 'r2'], ['r2']]);
    expect(report.written).toBe(2);
    expect(report.permanentErrors).toBe(1);
    expect(report.deadLetters).toEqual([
      {
        event: batch[0],
        reason: 'sink-rejected',
        attempts: 1,
        firstFailureAt: 1_700_000_000_000,
        lastError: expect.stringContaining('bad row 0'),
      },
    ]);
  });

  it('dead-letters a whole batch the sink refuses permanently after one attempt and no sleep', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([fail(permanent('schema mismatch'))]);
    const batch = records(4);
    const report = await deliverBatch(sink, batch, retry(), clock.hooks());
    expect(sink.calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    expect(report.written).toBe(0);
    expect(report.deadLetters.map((d) => [d.event.id, d.reason, d.attempts])).toEqual(
      batch.map((r) => [r.id, 'sink-rejected', 1]),
    );
    expect(report.deadLetters[0]!.lastError).toContain('schema mismatch');
  });

  it('dead-letters what still fails after maxAttempts as retries-exhausted, with the attempts and the first failure time', async () => {
    const clock = new FakeClock(5_000_000);
    const always = fail(transient('still busy'));
    const sink = new ScriptedSink([always, always, always, always], clock, 7);
    const batch = records(3);
    const report = await deliverBatch(sink, batch, retry({ maxAttempts: 3 }), clock.hooks());
    expect(sink.calls).toHaveLength(3);
    expect(clock.sleeps).toHaveLength(2);
    expect(report.retries).toBe(2);
    expect(report.written).toBe(0);
    expect(report.deadLetters).toEqual(
      batch.map((event) => ({
        event,
        reason: 'retries-exhausted',
        attempts: 3,
        // The first write took 7 ms of the fake clock before it failed.
        firstFailureAt: 5_000_007,
        lastError: expect.stringContaining('still busy'),
      })),
    );
  });

  it('stops retrying once maxElapsedMs has passed since the first failure', async () => {
    const clock = new FakeClock();
    const always = fail(transient());
    const sink = new ScriptedSink(Array(20).fill(always));
    // No jitter: sleeps of 40, 80, … ms. After the second retry 120 ms have passed: out of time.
    const options = retry({ maxAttempts: 100, initialDelayMs: 40, maxElapsedMs: 100, jitter: 'none' });
    const report = await deliverBatch(sink, records(2), options, clock.hooks());
    expect(clock.sleeps).toEqual([40, 80]);
    expect(sink.calls).toHaveLength(3);
    expect(report.deadLetters.map((d) => [d.reason, d.attempts, d.firstFailureAt])).toEqual([
      ['retries-exhausted', 3, 1_700_000_000_000],
      ['retries-exhausted', 3, 1_700_000_000_000],
    ]);
  });

  it('measures elapsed time from the first failure even on a clock that starts at zero', async () => {
    const clock = new FakeClock(0);
    const always = fail(transient());
    const sink = new ScriptedSink(Array(20).fill(always));
    const options = retry({ maxAttempts: 100, initialDelayMs: 40, maxElapsedMs: 100, jitter: 'none' });
    const report = await deliverBatch(sink, records(1), options, clock.hooks());
    expect(clock.sleeps).toEqual([40, 80]);
    expect(report.deadLetters.map((d) => [d.attempts, d.firstFailureAt])).toEqual([[3, 0]]);
  });

  it('waits at least the retry-after a sink error asks for', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([fail(transient('slow down', 700))]);
    const report = await deliverBatch(
      sink,
      records(2),
      retry(),
      clock.hooks(() => 0),
    );
    expect(clock.sleeps).toEqual([700]);
    expect(report.written).toBe(2);
  });

  it('takes the longest retry-after among the records that failed alone', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([
      failIndexes([
        [0, transient('a', 300)],
        [1, transient('b', 900)],
        [2, transient('c')],
      ]),
    ]);
    await deliverBatch(
      sink,
      records(3),
      retry(),
      clock.hooks(() => 0),
    );
    expect(clock.sleeps).toEqual([900]);
  });

  it('keeps its own backoff when it is longer than the retry-after', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([fail(transient('hint', 3))]);
    await deliverBatch(sink, records(1), retry({ initialDelayMs: 50, jitter: 'none' }), clock.hooks());
    expect(clock.sleeps).toEqual([50]);
  });

  it('treats an error that is not a SinkError as transient and retries it', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([fail(new Error('ECONNRESET'))]);
    const report = await deliverBatch(sink, records(2), retry(), clock.hooks());
    expect(sink.calls).toHaveLength(2);
    expect(report).toMatchObject({ written: 2, retries: 1, retryableErrors: 1, deadLetters: [] });
  });

  it('counts failed attempts once per kind of error, not once per record', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([
      failIndexes([
        [0, transient()],
        [1, transient()],
        [2, permanent()],
        [3, permanent()],
      ]),
    ]);
    const report = await deliverBatch(sink, records(4), retry(), clock.hooks());
    expect(report).toMatchObject({ retryableErrors: 1, permanentErrors: 1, written: 2 });
    expect(report.deadLetters.map((d) => d.event.id)).toEqual(['r2', 'r3']);
  });

  it('writes nothing for an empty batch', async () => {
    const sink = new ScriptedSink([]);
    const report = await deliverBatch(sink, [], retry(), new FakeClock().hooks());
    expect(sink.calls).toEqual([]);
    expect(report).toMatchObject({ written: 0, retries: 0, deadLetters: [] });
  });

  it('accounts for every record exactly once: written plus dead-lettered is the batch', async () => {
    const clock = new FakeClock();
    const sink = new ScriptedSink([
      failIndexes([
        [0, permanent()],
        [1, transient()],
        [5, transient()],
      ]),
      failIndexes([[0, transient()]]),
      failIndexes([[0, transient()]]),
    ]);
    const batch = records(8);
    const report = await deliverBatch(sink, batch, retry({ maxAttempts: 3 }), clock.hooks());
    const letters = report.deadLetters.map((d) => [d.event.id, d.reason]);
    expect(letters).toEqual([
      ['r0', 'sink-rejected'],
      ['r1', 'retries-exhausted'],
    ]);
    expect(report.written + report.deadLetters.length).toBe(batch.length);
  });
});

/** A sink that refuses, as a database does, any write holding one of `bad` (a per-record error). */
class PickySink implements Sink {
  readonly idempotent = true;
  readonly writes: string[][] = [];
  readonly stored: string[] = [];
  readonly #bad: Set<string>;
  /** Writes still to fail as a whole, retryably, before the sink refuses anything (an outage). */
  down: number;

  constructor(bad: string[], down = 0) {
    this.#bad = new Set(bad);
    this.down = down;
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    this.writes.push(records.map((r) => r.id));
    if (this.down > 0) {
      this.down--;
      throw new SinkError('connection lost', { retryable: true });
    }
    const bad = records.find((r) => this.#bad.has(r.id));
    if (bad) throw new SinkError(`invalid byte sequence in ${bad.id}`, { retryable: false, perRecord: true });
    this.stored.push(...records.map((r) => r.id));
    return undefined;
  }
}

describe('deliverBatch: per-record refusals', () => {
  it('splits a batch the sink refuses for some records until they stand alone, and dead-letters only those, with the message', async () => {
    const batch = records(1000);
    const sink = new PickySink(['r17', 'r500', 'r999']);
    const report = await deliverBatch(sink, batch, retry());
    expect(report.written).toBe(997);
    expect(sink.stored.sort()).toEqual(
      batch
        .map((r) => r.id)
        .filter((id) => !['r17', 'r500', 'r999'].includes(id))
        .sort(),
    );
    expect(report.deadLetters.map((l) => [l.event.id, l.reason])).toEqual([
      ['r17', 'sink-rejected'],
      ['r500', 'sink-rejected'],
      ['r999', 'sink-rejected'],
    ]);
    expect(report.deadLetters[0]!.lastError).toMatch(/invalid byte sequence in r17/);
    // Binary search: about 2·log2(n) writes per bad record, far fewer than one write per record.
    expect(sink.writes.length).toBeLessThanOrEqual(3 * 2 * Math.ceil(Math.log2(1000)) + 1);
  });

  it('does not split a permanent failure that is not per record: the whole batch is dead-lettered at once', async () => {
    const sink = new ScriptedSink([fail(permanent('table is missing'))]);
    const report = await deliverBatch(sink, records(8), retry());
    expect(sink.calls).toHaveLength(1);
    expect(report.deadLetters).toHaveLength(8);
  });

  it('stops splitting at a retryable failure, so no record is written ahead of an earlier one that is retried', async () => {
    let calls = 0;
    const order: string[] = [];
    const sink: Sink = {
      idempotent: true,
      open: async () => {},
      close: async () => {},
      write: async (batch) => {
        calls++;
        if (calls === 1) throw new SinkError('bad value', { retryable: false, perRecord: true });
        if (calls === 2) throw new SinkError('connection lost', { retryable: true });
        order.push(...batch.map((r) => r.id));
        return undefined;
      },
    };
    const batch = records(4);
    const report = await deliverBatch(sink, batch, retry(), new FakeClock().hooks());
    // The first half failed retryably mid-split: the second half was not written before it.
    expect(order).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(report.written).toBe(4);
    expect(report.deadLetters).toEqual([]);
  });
});

describe('deliverBatch: a retry budget in time', () => {
  it('retries a sink that is down without an attempt limit by default, until it comes back', async () => {
    const clock = new FakeClock();
    const sink = new PickySink([], 40);
    const report = await deliverBatch(
      sink,
      records(5),
      retry({ maxAttempts: Number.POSITIVE_INFINITY }),
      clock.hooks(),
    );
    expect(report.written).toBe(5);
    expect(report.deadLetters).toEqual([]);
    expect(report.retries).toBe(40);
  });

  it('hands the records back once a retry would wait past yieldAt, with the attempts and the first failure', async () => {
    const clock = new FakeClock();
    const started = clock.now;
    const sink = new PickySink([], 1000);
    const report = await deliverBatch(sink, records(3), retry({ initialDelayMs: 100 }), clock.hooks(), {
      yieldAt: started + 1000,
    });
    expect(report.written).toBe(0);
    expect(report.deadLetters).toEqual([]);
    expect(report.held).toMatchObject({ firstFailureAt: started, records: records(3) });
    expect(report.held!.attempts).toBeGreaterThan(1);
    expect(clock.now).toBeLessThanOrEqual(started + 1000);
  });

  it('carries attempts and the first failure from an earlier dispatch into the budget', async () => {
    const clock = new FakeClock();
    const sink = new PickySink([], 5);
    const firstFailureAt = clock.now - 60_000;
    const report = await deliverBatch(sink, records(2), retry({ maxElapsedMs: 30_000 }), clock.hooks(), {
      carried: { attempts: 12, firstFailureAt },
    });
    // The budget ran out before this dispatch began: one attempt, then dead letters.
    expect(sink.writes).toHaveLength(1);
    expect(report.deadLetters.map((l) => [l.reason, l.attempts, l.firstFailureAt])).toEqual([
      ['retries-exhausted', 13, firstFailureAt],
      ['retries-exhausted', 13, firstFailureAt],
    ]);
  });
});
