/**
 * A transform or validator that fails in a way Sluice cannot put into words — throws a value
 * String() refuses, an Error whose getters throw, returns an output whose getters or Proxy traps
 * throw — fails its own event with a dead letter and its reason. None of it may escape the event
 * path: a throw there fails the whole batch in the worker, and the batch is split down to the event
 * and dead-lettered as `worker-crash`, the good events beside it transformed again on the way.
 */
import { describe, expect, it } from 'vitest';
import type { DecodedEvent, SinkRecord } from '../../src/codec/event.js';
import { type DeadLetter, deadLetterRecord } from '../../src/delivery/dead-letter.js';
import { type TransformStage, transformEvent } from '../../src/engine/event-path.js';
import { applyTransform } from '../../src/transforms/apply-transform.js';
import type { LoadedTransform } from '../../src/transforms/transform.js';

type Map = LoadedTransform['map'];
type Validate = LoadedTransform['validate'];

function throwing(value: unknown): () => never {
  return () => {
    throw value;
  };
}

function errorWithMessageGetter(): Error {
  const error = new Error('x');
  Object.defineProperty(error, 'message', { get: throwing(new Error('message getter')) });
  return error;
}

const unprintable = {
  toString: throwing(new Error('toString threw')),
};

/** Runs applyTransform on one event; the call itself must not throw, nor its promise reject. */
async function run(map: Map, validate?: Validate): Promise<{ out: SinkRecord[]; letters: DeadLetter[] }> {
  const event: DecodedEvent = { id: 'e1', key: 'k1', payload: { n: 1 } };
  const out: SinkRecord[] = [];
  const letters: DeadLetter[] = [];
  let pending: Promise<void> | undefined;
  expect(() => {
    pending = applyTransform({ map, validate, lazyPayload: false }, event, out, letters);
  }).not.toThrow();
  await pending;
  // The letter's own JSON is built too, as the dead-letter sink would be handed it.
  for (const letter of letters) expect(() => JSON.parse(deadLetterRecord(letter).payloadJson!)).not.toThrow();
  return { out, letters };
}

function onlyLetter(result: { out: SinkRecord[]; letters: DeadLetter[] }): DeadLetter {
  expect(result.out).toEqual([]);
  expect(result.letters).toHaveLength(1);
  const letter = result.letters[0]!;
  expect(letter.event).toMatchObject({ id: 'e1', key: 'k1', payload: { n: 1 } });
  return letter;
}

describe('failures Sluice cannot put into words', () => {
  it.each<[string, Map, string | RegExp]>([
    [
      'throws an object with no prototype',
      throwing(Object.create(null)),
      /^\{\} \(cannot be rendered as text/,
    ],
    ['throws an object whose toString throws', throwing(unprintable), /Error: toString threw/],
    [
      'throws an Error whose message getter throws',
      () => {
        throw errorWithMessageGetter();
      },
      'Error: (its message cannot be read: Error: message getter)',
    ],
    [
      'rejects with an object with no prototype',
      () => Promise.reject(Object.create(null)),
      /^\{\} \(cannot be rendered/,
    ],
    [
      'returns a Proxy whose getPrototypeOf trap throws',
      () => new Proxy({}, { getPrototypeOf: throwing(new Error('getPrototypeOf trap')) }) as never,
      'Error: getPrototypeOf trap',
    ],
    [
      'returns a promise whose own then throws',
      (e) => Object.defineProperty(Promise.resolve(e), 'then', { value: throwing(new Error('then threw')) }),
      'Error: then threw',
    ],
  ])('a transform that %s: transform-error', async (_what, map, lastError) => {
    const letter = onlyLetter(await run(map));
    expect(letter.reason).toBe('transform-error');
    expect(letter.lastError).toEqual(
      typeof lastError === 'string' ? lastError : expect.stringMatching(lastError),
    );
  });

  it.each<[string, Map, string]>([
    [
      'whose payload getter throws',
      () => ({
        get payload(): unknown {
          throw new Error('payload getter');
        },
      }),
      'transform output could not be read: Error: payload getter',
    ],
    [
      'that is a Proxy whose traps throw',
      () =>
        new Proxy(
          {},
          { has: throwing(new Error('has trap')), get: throwing(new Error('get trap')) },
        ) as never,
      'transform output could not be read: Error: get trap',
    ],
    [
      'whose id getter throws an object with no prototype',
      (e) =>
        ({
          payload: e.payload,
          get id(): string {
            throw Object.create(null);
          },
        }) as never,
      'transform output could not be read: {} (cannot be rendered as text: TypeError: Cannot convert object to primitive value)',
    ],
    [
      'that is an array whose second element is a getter that throws',
      (e) => {
        const list = [e];
        Object.defineProperty(list, 1, { get: throwing(new Error('element getter')), enumerable: true });
        return list;
      },
      'transform output could not be read: Error: element getter',
    ],
  ])('an output %s: invalid-transform-output, nothing of it written', async (_what, map, lastError) => {
    const letter = onlyLetter(await run(map));
    expect(letter.reason).toBe('invalid-transform-output');
    expect(letter.lastError).toBe(lastError);
  });

  it.each<[string, Validate, RegExp]>([
    [
      'returns an object with no prototype',
      () => Object.create(null) as never,
      /^\{\} \(cannot be rendered as text/,
    ],
    ['returns an object whose toString throws', () => unprintable as never, /Error: toString threw/],
    [
      'throws an object with no prototype',
      throwing(Object.create(null)),
      /^\{\} \(cannot be rendered as text/,
    ],
    [
      'rejects with an object whose toString throws',
      () => Promise.reject(unprintable),
      /Error: toString threw/,
    ],
  ])('a validator that %s: validation-failed', async (_what, validate, lastError) => {
    const letter = onlyLetter(await run((e) => e, validate));
    expect(letter.reason).toBe('validation-failed');
    expect(letter.lastError).toMatch(lastError);
  });

  it('keeps the event as it was decoded in the letter, whatever the transform did to the object it was handed', async () => {
    const letter = onlyLetter(
      await run((event) => {
        Object.defineProperty(event, 'id', { get: throwing(new Error('id getter')) });
        Object.defineProperty(event, 'payload', { get: throwing(new Error('payload getter')) });
        (event as unknown as Record<string, unknown>).extra = new Proxy(
          {},
          { ownKeys: throwing(new Error('ownKeys')) },
        );
        throw new Error('failed after vandalising its input');
      }),
    );
    expect(letter.reason).toBe('transform-error');
    expect(letter.lastError).toBe('Error: failed after vandalising its input');
    expect(Object.keys(letter.event).sort()).toEqual(['id', 'key', 'payload', 'source', 'ts']);
  });

  it('checks an input changed in place and returned against the event as decoded, not as changed', async () => {
    // Compared with the object the transform changed, its new key was "the input's own" and
    // passed unchecked, lone surrogate and all.
    const letter = onlyLetter(
      await run((event) => {
        event.key = 'k1\uD800';
        return event;
      }),
    );
    expect(letter.reason).toBe('invalid-transform-output');
    expect(letter.lastError).toBe('transform output 0: key is not well-formed UTF-16 (a lone surrogate)');
  });

  it('dead-letters as unserializable a payload whose toJSON throws an object with no prototype', () => {
    const stage: TransformStage = {
      transform: {
        map: (e) => ({ payload: { toJSON: throwing(Object.create(null)) }, key: e.key }),
        validate: undefined,
        lazyPayload: false,
      },
      textSink: true,
    };
    const out: SinkRecord[] = [];
    const letters: DeadLetter[] = [];
    const text = '{"n":1}';
    expect(() =>
      transformEvent(stage, { id: 'e1', key: 'k1', payload: { n: 1 } }, text, out, letters),
    ).not.toThrow();
    expect(out).toEqual([]);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.reason).toBe('unserializable');
    expect(letters[0]!.event).toMatchObject({ id: 'e1', key: 'k1', raw: text });
    expect(letters[0]!.lastError).toMatch(/^\{\} \(cannot be rendered as text: TypeError/);
  });
});
