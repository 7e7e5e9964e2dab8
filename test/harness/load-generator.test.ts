/**
 * The load schedule: closed loop pushes consecutive sequence numbers as fast as accepted; open loop
 * stamps event i with its intended time start + i / rate; both stop at the producer's share of
 * the sequence space. Spacing is read from the events' `ts`, never from the wall clock.
 */
import { describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import {
  type LoadPlan,
  loadSchedule,
  PACE_MS,
  runLoadAsync,
  runLoadSync,
} from '../../src/harness/load-generator.js';
import type { RunInstruments, RunSettings } from '../../src/harness/run-settings.js';
import { blocksOf, loadPlans } from '../../src/harness/systems.js';
import { wallClockMs } from '../../src/queue/record-codec.js';

const PREFIX = 'lg-7f-';

function plan(overrides: Partial<LoadPlan>): LoadPlan {
  return {
    seqStart: 0,
    seqLimit: 100,
    rate: 'max',
    durationMs: 60_000,
    raw: false,
    prefix: PREFIX,
    ...overrides,
  };
}

interface Seen {
  id: string;
  ts: number;
}

/** Every event of a schedule, in order, read back as {id, ts} whether object or NDJSON line. */
function asSeen(item: SluiceEvent | string): Seen {
  const event = (typeof item === 'string' ? JSON.parse(item) : item) as { id: unknown; ts: unknown };
  expect(typeof event.id).toBe('string');
  expect(typeof event.ts).toBe('number');
  return { id: event.id as string, ts: event.ts as number };
}

/** Drives a schedule with the producer-thread driver, checking no event is stamped in the future. */
function drive(p: LoadPlan): { seen: Seen[]; sent: number; accepted: number } {
  const seen: Seen[] = [];
  const outcome = runLoadSync(p, (events) => {
    const now = wallClockMs();
    for (const item of events) {
      const event = asSeen(item);
      expect(event.ts).toBeLessThanOrEqual(now);
      seen.push(event);
    }
    return events.length;
  });
  return { seen, ...outcome };
}

const ids = (start: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${PREFIX}${start + i}`);

describe('closed loop (rate max)', () => {
  it('yields consecutive sequence numbers from seqStart, with ids prefix + seq, and stops at seqLimit', () => {
    const p = plan({ seqStart: 1000, seqLimit: 700 });
    const seen: Seen[] = [];
    for (const step of loadSchedule(p)) {
      expect(step).not.toHaveProperty('sleepMs');
      if ('events' in step) seen.push(...step.events.map(asSeen));
    }
    expect(seen.map((e) => e.id)).toEqual(ids(1000, 700));
  });

  it('stamps each event with the time it was built, never decreasing', () => {
    const before = wallClockMs();
    const { seen } = drive(plan({ seqLimit: 600 }));
    const after = wallClockMs();
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.ts).toBeGreaterThanOrEqual(seen[i - 1]!.ts);
    expect(seen[0]!.ts).toBeGreaterThanOrEqual(before);
    expect(seen.at(-1)!.ts).toBeLessThanOrEqual(after);
  });

  it('yields nothing when its duration is zero', () => {
    expect([...loadSchedule(plan({ durationMs: 0 }))]).toEqual([]);
  });

  it('reports what was sent apart from what push accepted', async () => {
    let calls = 0;
    const outcome = await runLoadAsync(plan({ seqLimit: 600 }), (events) => {
      calls++;
      return events.length - 1; // a drop policy refused one event of every push
    });
    expect(outcome.sent).toBe(600);
    expect(outcome.accepted).toBe(600 - calls);
  });
});

describe('open loop (a rate in events/s)', () => {
  it('stamps event i with the intended time start + i / rate, exactly', () => {
    const rate = 4000; // 0.25 ms apart: exact in binary, so the sums are exact too
    const { seen, sent, accepted } = drive(plan({ seqStart: 50, seqLimit: 300, rate }));
    expect(seen.map((e) => e.id)).toEqual(ids(50, 300));
    expect({ sent, accepted }).toEqual({ sent: 300, accepted: 300 });
    const start = seen[0]!.ts;
    expect(seen.map((e) => e.ts - start)).toEqual(seen.map((_, i) => i * 0.25));
  });

  it('never offers more than seqLimit events, even at a rate far above it', () => {
    const { seen, sent } = drive(plan({ seqLimit: 5000, rate: 10_000_000 }));
    expect(sent).toBe(5000);
    expect(seen.map((e) => e.id)).toEqual(ids(0, 5000));
  });

  it('stops at its duration: at most rate × duration + 1 events, all intended within it', async () => {
    const rate = 10_000;
    const durationMs = 30;
    let first: number | undefined;
    let last = 0;
    const outcome = await runLoadAsync(plan({ seqLimit: 1_000_000, rate, durationMs }), (events) => {
      const seen = events.map(asSeen);
      first ??= seen[0]!.ts;
      last = seen.at(-1)!.ts;
      return events.length;
    });
    expect(outcome.sent).toBeGreaterThanOrEqual(1);
    expect(outcome.sent).toBeLessThanOrEqual((rate * durationMs) / 1000 + 1);
    expect(last - first!).toBeLessThan(durationMs);
  });

  it('stops at its duration even when pushes are held up by backpressure and many events fall due at once', async () => {
    const pushMs = 10;
    const durationMs = 30;
    let pushes = 0;
    const outcome = await runLoadAsync(
      plan({ seqLimit: 10_000_000, rate: 1_000_000, durationMs }),
      async (events) => {
        pushes++;
        await new Promise((resolve) => setTimeout(resolve, pushMs));
        return events.length;
      },
    );
    // Every push takes at least pushMs, so a run that stops at its duration makes at most this
    // many; one that pushed everything due at its second wake-up (~10 000 events) would make ten more.
    expect(pushes).toBeLessThanOrEqual(Math.ceil(durationMs / pushMs) + 1);
    expect(outcome.sent).toBeGreaterThan(0);
  });

  it.each(['producer thread', 'main thread'])(
    'the %s driver wakes at most once per PACE_MS and then pushes every event due, each still stamped with its own intended time',
    async (driver) => {
      // 16 events per millisecond (1/16 ms apart: exact in binary); waking for each next event
      // would mean up to 16 pushes per ms.
      const rate = 16_000;
      const durationMs = 60;
      const pushes: Seen[][] = [];
      const push = (events: (SluiceEvent | string)[]) => {
        pushes.push(events.map(asSeen));
        return events.length;
      };
      const p = plan({ seqLimit: 1_000_000, rate, durationMs });
      const outcome = driver === 'producer thread' ? runLoadSync(p, push) : await runLoadAsync(p, push);
      // Sleeps never end early, so however slow the machine, the pushes are bounded by the time.
      expect(pushes.length).toBeLessThanOrEqual(Math.ceil(durationMs / PACE_MS) + 1);
      const seen = pushes.flat();
      expect(seen).toHaveLength(outcome.sent);
      expect(seen.map((e) => e.id)).toEqual(ids(0, outcome.sent));
      const start = seen[0]!.ts;
      expect(seen.map((e) => e.ts - start)).toEqual(seen.map((_, i) => i * (1000 / rate)));
    },
  );
});

describe('raw plans (NDJSON lines)', () => {
  it('yields lines that parse to objects with the expected id and a numeric ts, closed loop', () => {
    const p = plan({ raw: true, seqStart: 7, seqLimit: 300 });
    const lines: string[] = [];
    for (const step of loadSchedule(p)) if ('events' in step) lines.push(...(step.events as string[]));
    expect(lines.every((l) => typeof l === 'string' && !l.includes('\n'))).toBe(true);
    expect(lines.map((l) => asSeen(l).id)).toEqual(ids(7, 300));
  });

  it('yields lines carrying the open loop intended times', () => {
    const { seen } = drive(plan({ raw: true, seqLimit: 200, rate: 4000 }));
    expect(seen.map((e) => e.id)).toEqual(ids(0, 200));
    expect(seen.map((e) => e.ts - seen[0]!.ts)).toEqual(seen.map((_, i) => i * 0.25));
  });
});

describe('producer shares', () => {
  it('splits the sequence space into disjoint blocks inside the ledger, shares the rate, accounted by what each sent', () => {
    const settings = { maxEvents: 1000, rate: 3000, durationMs: 500, scenario: { raw: true } } as RunSettings;
    const instruments = { ledger: { prefix: PREFIX } } as RunInstruments;
    const shares = loadPlans(settings, instruments, 3);
    expect(shares).toEqual(
      [0, 333, 666].map((seqStart) => ({
        seqStart,
        seqLimit: 333,
        rate: 1000,
        durationMs: 500,
        raw: true,
        prefix: PREFIX,
      })),
    );
    expect(
      blocksOf(shares, [
        { sent: 10, accepted: 10 },
        { sent: 333, accepted: 300 },
        { sent: 0, accepted: 0 },
      ]),
    ).toEqual([
      [0, 10],
      [333, 333],
      [666, 0],
    ]);
  });
});
