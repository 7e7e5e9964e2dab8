/**
 * describeError renders whatever a transform throws, and a dead letter's JSON is built whatever
 * its payload holds: both run while a failure is being handled, where a throw would take the
 * worker down with the event (a `worker-crash` in place of the letter with its reason).
 */
import { describe, expect, it } from 'vitest';
import { type DeadLetter, deadLetterRecord, describeError } from '../../src/delivery/dead-letter.js';

function errorWith(field: 'message' | 'name' | 'code', thrown: unknown): Error {
  const error = new Error('boom');
  Object.defineProperty(error, field, {
    get() {
      throw thrown;
    },
  });
  return error;
}

const throwingTraps = new Proxy(
  {},
  {
    get() {
      throw new Error('get trap');
    },
    getPrototypeOf() {
      throw new Error('getPrototypeOf trap');
    },
    ownKeys() {
      throw new Error('ownKeys trap');
    },
  },
);
const revoked = Proxy.revocable({}, {});
revoked.revoke();

describe('describeError', () => {
  it.each<[string, unknown, RegExp]>([
    ['an object with no prototype', Object.create(null), /^\{\} \(cannot be rendered as text: TypeError/],
    [
      'an object with no prototype, with members',
      Object.assign(Object.create(null) as object, { reason: 'bad' }),
      /^\{"reason":"bad"\} \(cannot be rendered as text/,
    ],
    [
      'an object whose toString throws',
      {
        toString() {
          throw new Error('toString threw');
        },
      },
      /^\{\} \(cannot be rendered as text: Error: toString threw\)$/,
    ],
    [
      'an object whose toString throws an object with no prototype',
      {
        toString() {
          throw Object.create(null);
        },
      },
      /^\{\} \(cannot be rendered as text: \{\} \(cannot be rendered as text: TypeError/,
    ],
    [
      'an Error whose message getter throws',
      errorWith('message', new Error('message getter')),
      /^Error: \(its message cannot be read: Error: message getter\)$/,
    ],
    [
      'an Error whose name getter throws',
      errorWith('name', Object.create(null)),
      /^\(its name cannot be read: \{\} .*\): boom$/,
    ],
    [
      'an Error whose code getter throws',
      errorWith('code', new TypeError('code getter')),
      /^Error \[\(its code cannot be read: TypeError: code getter\)\]: boom$/,
    ],
    [
      'a Proxy whose traps throw',
      throwingTraps,
      /^a thrown object \(cannot be rendered as text: Error: getPrototypeOf trap\)$/,
    ],
    ['a revoked Proxy', revoked.proxy, /^a thrown object \(cannot be rendered as text: TypeError: .*revoked/],
  ])('renders %s as a line instead of throwing', (_what, value, expected) => {
    let rendered: unknown;
    expect(() => {
      rendered = describeError(value);
    }).not.toThrow();
    expect(rendered).toMatch(expected);
  });

  it('renders ordinary values as before', () => {
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
    expect(describeError(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }))).toBe(
      'Error [ECONNREFUSED]: down',
    );
    expect(describeError('a reason')).toBe('a reason');
    expect(describeError(null)).toBe('null');
    expect(describeError(undefined)).toBe('undefined');
    expect(describeError(Symbol('s'))).toBe('Symbol(s)');
    expect(describeError(12n)).toBe('12');
  });

  it('ends however deep the failures to render nest', () => {
    // Each toString throws a value whose toString throws, for ever.
    const endless = (): unknown => ({
      toString() {
        throw endless();
      },
    });
    expect(describeError(endless())).toBe(
      '{} (cannot be rendered as text: {} (cannot be rendered as text: {} (cannot be rendered as text: cannot be rendered)))',
    );
  });
});

describe('deadLetterRecord', () => {
  const letter = (payload: unknown): DeadLetter => ({
    event: { id: 'e1', key: 'k', payload },
    reason: 'transform-error',
    attempts: 1,
    firstFailureAt: 0,
    lastError: 'x',
  });

  it('leaves out a payload whose toJSON throws a value String() refuses, saying why', () => {
    const payload = {
      toJSON() {
        throw Object.create(null);
      },
    };
    const written = JSON.parse(deadLetterRecord(letter(payload)).payloadJson!) as DeadLetter;
    expect(written.event).toEqual({
      id: 'e1',
      key: 'k',
      payloadError: expect.stringMatching(/^\{\} \(cannot be rendered as text: TypeError/),
    });
    expect(written.reason).toBe('transform-error');
  });
});
