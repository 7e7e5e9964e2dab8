/**
 * Randomized faults, many seeds: valid events mixed with nesting bombs, ids no sink can keep apart,
 * lines that are not JSON, payloads with NUL and lone surrogates, transform errors and outputs JSON
 * cannot carry, a sink failing writes transiently, workers killed mid-batch and a poison event that
 * kills every worker it touches. For every seed: each accepted event is stored or dead-lettered —
 * exactly one of the two, with the reason its kind calls for — and the pipeline drains.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import type { RawRecord } from '../../src/queue/producer.js';
import { fixtureUrl, useScenes } from '../helpers/engine.js';

const scene = useScenes();

type Kind =
  | 'object'
  | 'line'
  | 'nul-and-surrogate'
  | 'bomb'
  | 'surrogate-id'
  | 'long-id'
  | 'float-id'
  | 'not-json'
  | 'throw'
  | 'bigint'
  | 'crash-once'
  | 'poison';

/** Where each kind must end: stored, or dead-lettered with this reason. */
const EXPECTED: Record<Kind, string> = {
  object: 'stored',
  line: 'stored',
  'nul-and-surrogate': 'stored',
  'crash-once': 'stored',
  bomb: 'too-deep',
  'surrogate-id': 'invalid-event',
  'long-id': 'invalid-event',
  'float-id': 'invalid-event',
  'not-json': 'invalid-json',
  throw: 'transform-error',
  bigint: 'unserializable',
  poison: 'worker-crash',
};

const common = fc.constantFrom<Kind>('object', 'line', 'line', 'object', 'nul-and-surrogate');
const hostile = fc.constantFrom<Kind>(
  'bomb',
  'surrogate-id',
  'long-id',
  'float-id',
  'not-json',
  'throw',
  'bigint',
  'crash-once',
);

/** An event list: mostly valid, a tenth hostile, a poison event in some runs. */
const scenario = fc.record({
  kinds: fc.array(fc.oneof({ weight: 9, arbitrary: common }, { weight: 1, arbitrary: hostile }), {
    minLength: 50,
    maxLength: 300,
  }),
  poisonAt: fc.option(fc.nat(), { freq: 3 }),
  depth: fc.integer({ min: 3_000, max: 40_000 }),
  failRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

/** What is pushed for an event of `kind` whose accepted id is `id`. */
function build(kind: Kind, id: string, depth: number, markerDir: string): SluiceEvent | RawRecord {
  const line = (text: string): RawRecord => ({ data: text, id });
  switch (kind) {
    case 'object':
      return { id, payload: { kind, n: id.length } };
    case 'line':
      return line(JSON.stringify({ id, kind, big: 12345678901234567890n.toString() }));
    case 'nul-and-surrogate':
      return { id, payload: { text: 'nul \u0000 and lone \ud800' } };
    case 'bomb':
      return line(`{"kind":"bomb","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    case 'surrogate-id':
      return line('{"id":"x-\\udc00"}');
    case 'long-id':
      return line(JSON.stringify({ id: 'é'.repeat(128) }));
    case 'float-id':
      return line('{"id":2.5}');
    case 'not-json':
      return line('{"id": broken');
    case 'throw':
    case 'bigint':
      return { id, payload: { chaos: kind } };
    case 'crash-once':
      return { id, payload: { chaos: kind, markerDir } };
    case 'poison':
      return { id, payload: { chaos: 'poison' } };
  }
}

describe('randomized faults', () => {
  it('every accepted event is stored or dead-lettered — exactly one, with its reason — whatever the mix', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ kinds, poisonAt, depth, failRate, seed }) => {
        const s = scene();
        const list = [...kinds];
        if (poisonAt !== null) list.splice(poisonAt % (list.length + 1), 0, 'poison');
        const pipeline = await s.pipeline({
          queue: { capacityBytes: 1 << 20 },
          workers: { min: 2, max: 2, taskTimeoutMs: 5_000 },
          batch: { maxRecords: 32 },
          retry: { initialDelayMs: 1, maxDelayMs: 10 },
          transform: fixtureUrl('chaos-transform'),
          sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ failRate, seed }) },
          deadLetter: { type: 'ndjson', path: s.deadLetterPath },
        });
        const expected = new Map<string, string>();
        // Pushed in runs of one shape, in order: objects with pushMany, lines with pushRawRecords.
        let run: (SluiceEvent | RawRecord)[] = [];
        const flush = async () => {
          if (run.length === 0) return;
          const raw = 'data' in run[0]!;
          const accepted = raw
            ? await pipeline.pushRawRecords(run as RawRecord[])
            : await pipeline.pushMany(run as SluiceEvent[]);
          expect(accepted).toBe(run.length);
          run = [];
        };
        for (const [i, kind] of list.entries()) {
          const id = `mix-${seed}-${i}`;
          expected.set(id, EXPECTED[kind]);
          const item = build(kind, id, depth, s.dir);
          if (run.length > 0 && 'data' in run[0]! !== 'data' in item) await flush();
          run.push(item);
        }
        await flush();
        await pipeline.drained();

        const stored = s.rows().map((r) => r.id);
        const letters = s.deadLetters();
        const outcome = new Map<string, string[]>();
        for (const id of stored) outcome.set(id, [...(outcome.get(id) ?? []), 'stored']);
        for (const l of letters) outcome.set(l.id, [...(outcome.get(l.id) ?? []), l.letter.reason]);
        for (const [id, want] of expected) expect([id, outcome.get(id)]).toEqual([id, [want]]);
        expect(outcome.size).toBe(expected.size);
        await pipeline.close();
      }),
      { numRuns: 12, seed: 20_261_129, endOnFailure: true },
    );
  }, 300_000);
});
