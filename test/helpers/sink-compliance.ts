/**
 * The compliance suite every sink's test file runs (after Vector's
 * `run_and_assert_sink_compliance`). It registers one `describe` of tests that hold for any sink:
 *
 * (a) writing the same batch twice stores each event once — or, for a sink that says it is not
 *     idempotent, at least once (readers of such a sink deduplicate by id);
 * (b) a write that resolved is visible to a fresh reader (new connection, new file read): the sink
 *     acknowledges only what it has made durable;
 * (c) when what the sink depends on fails, the write (or open) rejects with a SinkError marked
 *     retryable — and, where the failure can be undone, the next write succeeds;
 * (d) close resolves, the stored events outlive it, and closing again is harmless (documented
 *     here as the contract: close is idempotent).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Sink, SinkRecord } from '../../src/sinks/sink.js';

export interface FailureScenario {
  /** Finishes the sentence "…when <description>". */
  description: string;
  /** A sink to fail. The helper opens it, unless the failure is expected at open. */
  makeSink(): Sink | Promise<Sink>;
  /** Where the failure shows. @default 'write' */
  failsAt?: 'open' | 'write';
  /** Breaks what the opened sink depends on (omit when makeSink already built a broken sink). */
  breakIt?(): void | Promise<void>;
  /** Undoes breakIt; the next write must then succeed. Omit when the failure cannot be undone. */
  repair?(): void | Promise<void>;
}

export interface SinkComplianceOptions {
  /** Shown in the describe block. */
  name: string;
  /**
   * Whether the sink stores events a reader can find. The null sink does not: (a) and (b) then
   * check only that writes resolve and nothing is found.
   * @default true
   */
  stores?: boolean;
  /** Ways to make the sink fail transiently; at least one unless the sink cannot fail. */
  failures?: FailureScenario[];
  /** Records per test batch. @default 40 */
  batchSize?: number;
}

let batchCounter = 0;

/** A batch of records with run-unique ids and the fields a sink must carry. */
export function complianceBatch(size: number, label = 'batch'): SinkRecord[] {
  const run = `${label}-${process.pid}-${++batchCounter}-${Math.random().toString(36).slice(2, 8)}`;
  return Array.from({ length: size }, (_, i) => ({
    id: `${run}-${i}`,
    key: `key-${i % 5}`,
    source: 'compliance',
    ts: 1_700_000_000_000 + i,
    payload: { i, text: `événement ${i} ✓`, nested: { list: [i, i + 1], flag: i % 2 === 0 } },
  }));
}

function countsOf(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

export function runSinkCompliance(
  makeSink: () => Sink | Promise<Sink>,
  readIds: () => Promise<string[]>,
  opts: SinkComplianceOptions,
): void {
  const stores = opts.stores ?? true;
  const size = opts.batchSize ?? 40;
  const opened: Sink[] = [];
  const repairs: (() => void | Promise<void>)[] = [];

  async function openSink(): Promise<Sink> {
    const sink = await makeSink();
    opened.push(sink);
    await sink.open();
    return sink;
  }

  describe(`${opts.name} sink compliance`, () => {
    afterEach(async () => {
      for (const repair of repairs.splice(0)) await repair();
      await Promise.allSettled(opened.splice(0).map((sink) => sink.close()));
    });

    if (!stores) {
      it('accepts any batch, twice, and stores nothing a reader could find', async () => {
        const sink = await openSink();
        const batch = complianceBatch(size);
        await expect(sink.write(batch)).resolves.toBeUndefined();
        await expect(sink.write(batch)).resolves.toBeUndefined();
        const found = new Set(await readIds());
        expect(batch.filter((r) => found.has(r.id))).toEqual([]);
      });
    } else {
      it('stores each event of a batch written twice once if it is idempotent, and at least once if it says it is not', async () => {
        const sink = await openSink();
        const batch = complianceBatch(size);
        await sink.write(batch);
        await sink.write(batch);
        const counts = countsOf(await readIds());
        const perEvent = batch.map((r) => counts.get(r.id) ?? 0);
        if (sink.idempotent) {
          expect(perEvent).toEqual(batch.map(() => 1));
        } else {
          // Not idempotent (declared by the sink): a rewrite may duplicate, but never lose.
          expect(perEvent.every((n) => n >= 1)).toBe(true);
        }
      });

      it('stores each event once (at least once if not idempotent) when a rewrite overlaps a batch already written', async () => {
        const sink = await openSink();
        const first = complianceBatch(size);
        const second = complianceBatch(size);
        const overlap = [...first.slice(size / 2), ...second];
        await sink.write(first);
        await sink.write(overlap);
        const counts = countsOf(await readIds());
        const expected = sink.idempotent ? 1 : undefined;
        for (const record of [...first, ...second]) {
          const n = counts.get(record.id) ?? 0;
          if (expected === undefined) expect(n).toBeGreaterThanOrEqual(1);
          else expect(n, record.id).toBe(expected);
        }
      });

      it('acknowledges a write only once a fresh reader can see every event of it', async () => {
        const sink = await openSink();
        const batch = complianceBatch(size);
        const before = new Set(await readIds());
        expect(batch.some((r) => before.has(r.id))).toBe(false);
        await sink.write(batch);
        const after = new Set(await readIds());
        expect(batch.filter((r) => !after.has(r.id)).map((r) => r.id)).toEqual([]);
      });
    }

    for (const scenario of opts.failures ?? []) {
      const failsAt = scenario.failsAt ?? 'write';
      const what = failsAt === 'open' ? 'an open' : 'a write';
      const title = scenario.repair
        ? `rejects ${what} with a retryable SinkError when ${scenario.description}, and writes again once repaired`
        : `rejects ${what} with a retryable SinkError when ${scenario.description}`;
      it(title, async () => {
        const sink = await scenario.makeSink();
        opened.push(sink);
        const retryable = { code: 'SLUICE_SINK_ERROR', retryable: true };
        if (failsAt === 'open') {
          await expect(sink.open()).rejects.toMatchObject(retryable);
          return;
        }
        await sink.open();
        if (scenario.repair) repairs.push(scenario.repair);
        await scenario.breakIt?.();
        const batch = complianceBatch(size, 'failing');
        await expect(sink.write(batch)).rejects.toMatchObject(retryable);
        if (!scenario.repair) return;
        await repairs.pop()!();
        await sink.write(batch);
        if (stores) {
          const found = new Set(await readIds());
          expect(batch.filter((r) => !found.has(r.id)).map((r) => r.id)).toEqual([]);
        }
      });
    }

    it('closes cleanly, keeps what it stored, and a second close resolves too (close is idempotent)', async () => {
      const sink = await makeSink();
      await sink.open();
      const batch = complianceBatch(size);
      await sink.write(batch);
      await expect(sink.close()).resolves.toBeUndefined();
      await expect(sink.close()).resolves.toBeUndefined();
      if (stores) {
        const found = new Set(await readIds());
        expect(batch.filter((r) => !found.has(r.id)).map((r) => r.id)).toEqual([]);
      }
    });
  });
}
