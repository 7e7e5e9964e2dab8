import { describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import type { SourceTarget } from '../../src/sources/source.js';
import { SyntheticSource } from '../../src/sources/synthetic-source.js';

/** A target that accepts everything and remembers it; `onPush` runs after each accepted call. */
function collector(onPush: (events: SluiceEvent[]) => void = () => {}) {
  const events: SluiceEvent[] = [];
  const target = {
    pushMany: async (batch: readonly SluiceEvent[]) => {
      events.push(...batch);
      onPush(events);
      return batch.length;
    },
  } as unknown as SourceTarget;
  return { events, target };
}

describe('SyntheticSource', () => {
  it('pushes exactly `events` events with distinct ids, keys among `keys`, and then ends', async () => {
    const { events, target } = collector();
    const source = new SyntheticSource({ events: 1234, keys: 3 });
    await source.start(target, new AbortController().signal);
    expect(events).toHaveLength(1234);
    expect(source.pushed).toBe(1234);
    expect(new Set(events.map((e) => e.id)).size).toBe(1234);
    expect(new Set(events.map((e) => e.key))).toEqual(new Set(['key-0', 'key-1', 'key-2']));
    expect(events[7]!.payload).toMatchObject({ n: 7 });
  });

  it('an endless source stops pushing once its signal aborts', async () => {
    const stop = new AbortController();
    const { events, target } = collector((all) => {
      if (all.length >= 2000) stop.abort();
    });
    await new SyntheticSource().start(target, stop.signal);
    expect(events.length).toBeGreaterThanOrEqual(2000);
    expect(events.length).toBeLessThan(2000 + 500 * 2);
  });

  it('stop() resolves only after the last push of an endless source, and nothing is pushed after it', async () => {
    let source!: SyntheticSource;
    let stopped!: Promise<void>;
    let stopCalled!: () => void;
    const asked = new Promise<void>((resolve) => {
      stopCalled = resolve;
    });
    const { events, target } = collector((all) => {
      if (all.length >= 1000 && stopped === undefined) {
        stopped = source.stop();
        stopCalled();
      }
    });
    source = new SyntheticSource({ rate: 'max' });
    const running = source.start(target, new AbortController().signal);
    await asked;
    await stopped;
    const seen = events.length;
    await running;
    expect(seen).toBeGreaterThanOrEqual(1000);
    expect(events.length).toBe(seen);
    expect(source.pushed).toBe(seen);
  });

  it('a rate-limited source pushes no more than its rate allows', async () => {
    const { events, target } = collector();
    const started = performance.now();
    await new SyntheticSource({ rate: 2000, events: 200 }).start(target, new AbortController().signal);
    expect(events).toHaveLength(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
  });
});
