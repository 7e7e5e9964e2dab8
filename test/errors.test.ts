/**
 * What crosses a thread is typed: serializeError turns any thrown value into plain data that
 * survives structured clone, and reviveError turns it back into an Error with its name, message
 * and stable code — the right SluiceError subclass where the code is known.
 */
import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  HttpError,
  InvalidEventError,
  InvalidOptionError,
  QueueFullError,
  RecordTooLargeError,
  RunConfigError,
  reviveError,
  ShutdownTimeoutError,
  SinkError,
  SluiceError,
  SourceError,
  StartupTimeoutError,
  serializeError,
  TransformError,
} from '../src/errors.js';

/** What a worker's thrown value looks like once piscina posted it to the main thread. */
const acrossThreads = (error: unknown) => structuredClone(serializeError(error));

describe('serializeError and reviveError', () => {
  const cases: [string, SluiceError, Record<string, unknown>][] = [
    ['InvalidOptionError', new InvalidOptionError('queue.capacityBytes', 'a power of two', 1000), {}],
    ['InvalidEventError', new InvalidEventError('key', 'must be a string, got number'), { field: 'key' }],
    ['RecordTooLargeError', new RecordTooLargeError(4096, 1024), { recordBytes: 4096, maxRecordBytes: 1024 }],
    ['QueueFullError', new QueueFullError(50), {}],
    ['ClosedError', new ClosedError('pipeline'), {}],
    [
      'SinkError',
      new SinkError('postgres: connect ECONNREFUSED', { retryable: true, retryAfterMs: 250 }),
      { retryable: true, retryAfterMs: 250 },
    ],
    ['SourceError', new SourceError('nats down'), {}],
    ['HttpError', new HttpError(413, 'event 3 is larger than queue.maxRecordBytes (1024)'), { status: 413 }],
    [
      'TransformError',
      new TransformError('./enrich.js', 'setup() failed: no key'),
      { module: './enrich.js' },
    ],
    ['ShutdownTimeoutError', new ShutdownTimeoutError(12, 3000), { pendingEvents: 12 }],
    [
      'StartupTimeoutError',
      new StartupTimeoutError(300, { transform: './t.js', sink: 'sqlite' }),
      { timeoutMs: 300 },
    ],
  ];

  it.each(cases)(
    'a %s crosses threads as itself: class, name, message, code and fields',
    (name, error, fields) => {
      const revived = reviveError(acrossThreads(error));
      expect(revived).toBeInstanceOf(error.constructor);
      expect(revived).toBeInstanceOf(SluiceError);
      expect(revived.name).toBe(name);
      expect(revived.message).toBe(error.message);
      expect((revived as SluiceError).code).toBe(error.code);
      expect(revived.stack).toBe(error.stack);
      expect(revived).toMatchObject(fields);
    },
  );

  it('the serialized form is plain data: JSON round-trips it unchanged', () => {
    const error = new SinkError('sqlite: disk I/O error', {
      retryable: false,
      cause: Object.assign(new Error('SQLITE_IOERR'), { code: 'SQLITE_IOERR' }),
    });
    const serialized = serializeError(error);
    expect(JSON.parse(JSON.stringify(serialized))).toEqual(serialized);
    expect(serialized).toMatchObject({
      name: 'SinkError',
      message: 'sqlite: disk I/O error',
      code: 'SLUICE_SINK_ERROR',
      cause: 'SQLITE_IOERR',
      fields: { retryable: false },
    });
    expect(serialized.stack).toContain('sqlite: disk I/O error');
  });

  it("the cause's message survives the crossing", () => {
    const error = new SinkError('cannot open', {
      retryable: true,
      cause: new Error('EACCES: permission denied'),
    });
    const revived = reviveError(acrossThreads(error));
    expect((revived.cause as Error).message).toBe('EACCES: permission denied');
  });

  it("a SluiceError subclass that shares another class's code keeps its name and code, as the class its code belongs to", () => {
    const revived = reviveError(acrossThreads(new RunConfigError('sluice.json', ['source.rate must be …'])));
    expect(revived).toBeInstanceOf(InvalidOptionError);
    expect(revived).toMatchObject({ name: 'RunConfigError', code: 'SLUICE_INVALID_OPTION' });
    expect(revived.message).toBe('sluice.json: source.rate must be …');
  });

  it('a foreign error keeps its name, message and code, as a plain Error', () => {
    const foreign = Object.assign(new TypeError("Cannot read properties of undefined (reading 'x')"), {
      code: 'ERR_SOMETHING',
    });
    const revived = reviveError(acrossThreads(foreign));
    expect(revived).not.toBeInstanceOf(SluiceError);
    expect(revived).toBeInstanceOf(Error);
    expect(revived).toMatchObject({ name: 'TypeError', message: foreign.message, code: 'ERR_SOMETHING' });
  });

  it('a real Error passes through reviveError unchanged', () => {
    const error = new Error('worker exited with code 1');
    expect(reviveError(error)).toBe(error);
  });

  it.each([
    ['a string', 'boom', 'boom'],
    ['a number', 42, '42'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
  ])(
    'a thrown %s becomes an Error whose message shows it, either side of the crossing',
    (_what, value, shows) => {
      for (const revived of [reviveError(value), reviveError(acrossThreads(value))]) {
        expect(revived).toBeInstanceOf(Error);
        expect(revived.message).toContain(shows);
      }
    },
  );

  it('an error-like plain object keeps its name, message and code; a SLUICE_ code makes it a SluiceError', () => {
    const revived = reviveError({ name: 'SinkError', message: 'down', code: 'SLUICE_SINK_ERROR' });
    expect(revived).toBeInstanceOf(SinkError);
    expect(revived).toMatchObject({ name: 'SinkError', message: 'down', code: 'SLUICE_SINK_ERROR' });
    const other = reviveError({ message: 'odd', code: 'E_ODD' });
    expect(other).toMatchObject({ name: 'Error', message: 'odd', code: 'E_ODD' });
  });

  it('serializing a serialized error changes nothing', () => {
    const once = serializeError(new ClosedError());
    expect(serializeError(structuredClone(once))).toEqual(once);
  });
});
