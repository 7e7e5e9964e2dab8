/**
 * Accounting by id through a user's pipeline: the ledger sink counts only what the real sink
 * acknowledged (not records it failed on their own), and events the transform filtered out are
 * counted as filtered, never written; the transform wrapper marks them and keeps a flatMap's
 * first output on its event's id.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { IdLedger } from '../../src/harness/id-ledger.js';
import { LedgerSink } from '../../src/harness/ledger-sink.js';
import { FILTERED_MARK, ledgerTransformUrl } from '../../src/harness/ledger-transform.js';
import type { Sink, WriteOutcome } from '../../src/sinks/sink.js';

const PREFIX = 'run-';
const record = (seq: number, source?: string): SinkRecord => ({
  id: `${PREFIX}${seq}`,
  source,
  payload: { seq },
});

/** A sink that stores what it is given and fails the records at the given indexes of each write. */
function recordingSink(failAt: number[]): Sink & { stored: string[] } {
  const stored: string[] = [];
  return {
    stored,
    idempotent: true,
    open: async () => undefined,
    close: async () => undefined,
    write: async (records): Promise<WriteOutcome | undefined> => {
      records.forEach((r, i) => {
        if (!failAt.includes(i)) stored.push(r.id);
      });
      return failAt.length === 0
        ? undefined
        : { failed: failAt.map((index) => ({ index, error: 'refused' })) };
    },
  };
}

describe('the ledger sink over a real sink', () => {
  it('counts only the records the real sink acknowledged, and hands its per-record failures back', async () => {
    const acks = new IdLedger(10, PREFIX);
    const inner = recordingSink([1]);
    const sink = new LedgerSink({ ledger: acks.buffer, prefix: PREFIX }, inner);
    const outcome = await sink.write([record(0), record(1), record(2)]);
    expect(outcome).toEqual({ failed: [{ index: 1, error: 'refused' }] });
    expect(inner.stored).toEqual([`${PREFIX}0`, `${PREFIX}2`]);
    expect(acks.account([[0, 3]], undefined)).toMatchObject({ acknowledged: 2, lost: 1, duplicates: 0 });
  });

  it('counts filtered markers as filtered, writes only the rest, and maps failures back to the batch', async () => {
    const acks = new IdLedger(10, PREFIX);
    const filtered = new IdLedger(10, PREFIX);
    // The real sink sees [0, 2, 4] and fails its index 1: record 2, index 2 of the batch.
    const inner = recordingSink([1]);
    const sink = new LedgerSink({ ledger: acks.buffer, prefix: PREFIX, filtered: filtered.buffer }, inner);
    const batch = [record(0), record(1, FILTERED_MARK), record(2), record(3, FILTERED_MARK), record(4)];
    const outcome = await sink.write(batch);
    expect(inner.stored).toEqual([`${PREFIX}0`, `${PREFIX}4`]);
    expect(outcome).toEqual({ failed: [{ index: 2, error: 'refused' }] });
    expect(acks.account([[0, 5]], undefined)).toMatchObject({ acknowledged: 2 });
    expect(filtered.account([[0, 5]], undefined)).toMatchObject({ acknowledged: 2 });
    const counts = new Uint8Array(filtered.buffer);
    expect([1, 3].map((seq) => counts[seq])).toEqual([1, 1]);
  });
});

describe('the bench transform wrapper', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-wrap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const transform = join(dir, 'transform.mjs');
  writeFileSync(
    transform,
    [
      'export const validate = (e) => e.payload.ok !== false || "not ok";',
      'export default function (e) {',
      '  if (e.payload.drop) return null;',
      '  if (e.payload.none) return [];',
      '  if (e.payload.split) return [{ payload: 1 }, { payload: 2 }];',
      '  if (e.payload.later) return Promise.resolve(null);',
      '  return { payload: { ...e.payload, seen: true } };',
      '}',
    ].join('\n'),
  );

  it('runs the transform as it is, marks what it filters out, and gives a flatMap’s first output the event id', () => {
    // The built module, imported by Node itself: its URL's query names the transform it wraps.
    const built = new URL('../../dist/src/harness/ledger-transform.js', import.meta.url);
    const url = ledgerTransformUrl(transform);
    built.search = url.search;
    expect(url.searchParams.get('inner')).toBe(pathToFileURL(transform).href);
    const script = `
      const w = await import(${JSON.stringify(built.href)});
      const event = (payload) => ({ id: 'run-7', ts: 1, payload });
      const out = [
        w.default(event({ a: 1 })),
        w.default(event({ drop: true })),
        w.default(event({ none: true })),
        await w.default(event({ later: true })),
        w.default(event({ split: true })),
        w.validate(event({ ok: false })),
      ];
      process.stdout.write(JSON.stringify(out));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as unknown[];
    const mark = { id: 'run-7', source: FILTERED_MARK, payload: 0 };
    expect(out).toEqual([
      { payload: { a: 1, seen: true } },
      mark,
      mark,
      mark,
      [{ id: 'run-7', payload: 1 }, { payload: 2 }],
      'not ok',
    ]);
  });
});
