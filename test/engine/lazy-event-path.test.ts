/**
 * The event path with a transform that takes lazy payloads: what each kind of sink is handed, and
 * what becomes of outputs the view cannot describe.
 */
import { types } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DecodedEvent, SinkRecord } from '../../src/codec/event.js';
import type { DeadLetter } from '../../src/delivery/dead-letter.js';
import { eventPayload, type TransformStage, transformEvent } from '../../src/engine/event-path.js';
import type { LoadedTransform } from '../../src/transforms/transform.js';

const TEXT = '{"id":"e1","big":12345678901234567890,"user":{"n":1}}';

function stage(map: LoadedTransform['map'], textSink: boolean, lazyPayload = true): TransformStage {
  return { transform: { map, validate: undefined, lazyPayload }, textSink };
}

function run(s: TransformStage, text = TEXT): { out: SinkRecord[]; letters: DeadLetter[] } {
  const { payload, lazy } = eventPayload(s, text);
  const event: DecodedEvent = { id: 'e1', payload };
  const out: SinkRecord[] = [];
  const letters: DeadLetter[] = [];
  expect(transformEvent(s, event, text, out, letters, lazy)).toBeUndefined();
  return { out, letters };
}

const enrich = (event: DecodedEvent) => {
  (event.payload as Record<string, unknown>).seenBy = 'sluice';
  return event;
};

describe('lazy payloads through the event path', () => {
  it('hands a built-in sink the text with the member spliced in', () => {
    const { out, letters } = run(stage(enrich, true));
    expect(letters).toEqual([]);
    expect(out.map((r) => [r.id, r.payloadJson])).toEqual([
      ['e1', '{"id":"e1","big":12345678901234567890,"user":{"n":1},"seenBy":"sluice"}'],
    ]);
  });

  it('hands a sink that takes objects a plain payload, parsed when read, cloneable', () => {
    const { out } = run(stage(enrich, false));
    const record = out[0]!;
    expect(record.payloadJson).toBe(
      '{"id":"e1","big":12345678901234567890,"user":{"n":1},"seenBy":"sluice"}',
    );
    const copy = { ...record };
    expect(types.isProxy(copy.payload)).toBe(false);
    expect(copy.payload).toEqual({ id: 'e1', big: 12345678901234567000, user: { n: 1 }, seenBy: 'sluice' });
    expect(structuredClone(record).payload).toEqual(copy.payload);
    // Read once, it is an ordinary property: the same object every time, and assignable.
    expect(record.payload).toBe(record.payload);
    record.payload = { replaced: true };
    expect(record.payload).toEqual({ replaced: true });
  });

  it('serialises the object once the transform changed what the text holds', () => {
    const deepen = (event: DecodedEvent) => {
      (event.payload as { user: { n: number } }).user.n = 2;
      return event;
    };
    expect(run(stage(deepen, true)).out[0]!.payloadJson).toBe(
      '{"id":"e1","big":12345678901234567000,"user":{"n":2}}',
    );
  });

  it('serialises the view where an output holds it inside another payload, and fans out the same text', () => {
    const wrap = (event: DecodedEvent) => [
      { payload: { wrapped: event.payload } },
      { payload: event.payload, route: 'b' },
      { payload: event.payload, route: 'c' },
    ];
    const { out } = run(stage(wrap, true));
    expect(out.map((r) => r.payloadJson)).toEqual([
      '{"wrapped":{"id":"e1","big":12345678901234567000,"user":{"n":1}}}',
      // Serialising the wrapper read `user` through the view: the text no longer stands for it.
      '{"id":"e1","big":12345678901234567000,"user":{"n":1}}',
      '{"id":"e1","big":12345678901234567000,"user":{"n":1}}',
    ]);
  });

  it('dead-letters an added member that cannot be written, with the event text', () => {
    const bigint = (event: DecodedEvent) => {
      (event.payload as Record<string, unknown>).n = 1n;
      return event;
    };
    const { out, letters } = run(stage(bigint, true));
    expect(out).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'unserializable', event: { id: 'e1', raw: TEXT } });
  });

  it('parses payloads that are not objects, and every payload of a transform that did not ask', () => {
    for (const [text, lazyPayload] of [
      ['[1,2]', true],
      ['"s"', true],
      [TEXT, false],
    ] as const) {
      const s = stage((event) => event, true, lazyPayload);
      const { payload, lazy } = eventPayload(s, text);
      expect(lazy).toBeUndefined();
      expect(types.isProxy(payload)).toBe(false);
      expect(payload).toEqual(JSON.parse(text));
    }
  });
});
