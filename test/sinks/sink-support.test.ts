import { describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors.js';
import { isRetryableNatsError } from '../../src/sinks/nats-jetstream-sink.js';
import { isRetryablePgError } from '../../src/sinks/postgres-sink.js';
import {
  messageOf,
  requireOpen,
  sinkFailure,
  TRANSIENT_NETWORK_CODES,
} from '../../src/sinks/sink-support.js';

describe('sink support', () => {
  it('a write before open() is a permanent SinkError naming the sink', () => {
    expect(requireOpen(0, 'ndjson')).toBe(0);
    let thrown: unknown;
    try {
      requireOpen(undefined, 'ndjson');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SinkError);
    expect((thrown as SinkError).message).toBe('ndjson sink is not open');
    expect((thrown as SinkError).retryable).toBe(false);
  });

  it('a failure reads `<sink>: <what>: <reason>` and keeps its cause and classification', () => {
    const cause = new Error('connection refused');
    const failure = sinkFailure('redis-streams', 'cannot connect to redis://h:6379', cause, {
      retryable: true,
    });
    expect(failure.message).toBe('redis-streams: cannot connect to redis://h:6379: connection refused');
    expect(failure.cause).toBe(cause);
    expect(failure.retryable).toBe(true);
    expect(failure.perRecord).toBe(false);
    const refused = sinkFailure('postgres', 'write failed', 'x', {
      retryable: false,
      perRecord: true,
      reason: 'a NUL in text',
    });
    expect(refused.message).toBe('postgres: write failed: a NUL in text');
    expect(refused.perRecord).toBe(true);
    expect(messageOf(42)).toBe('42');
  });

  it('the postgres and nats sinks retry every transient network code the family lists', () => {
    for (const code of TRANSIENT_NETWORK_CODES) {
      const error = Object.assign(new Error(code), { code });
      expect(isRetryablePgError(error), code).toBe(true);
      expect(isRetryableNatsError(error), code).toBe(true);
    }
    const permanent = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    expect(isRetryablePgError(permanent)).toBe(false);
    expect(isRetryableNatsError(permanent)).toBe(false);
  });
});
