/**
 * resolvePipelineOptions: every option of every group and of every built-in sink is validated up
 * front, every problem is reported at once (naming the field and quoting the value), and what it
 * returns is complete, so nothing downstream validates or merges defaults again.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { type PipelineOptions, resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { InvalidOptionError } from '../../src/errors.js';

/** The problems resolvePipelineOptions reports for `options`, or [] when it accepts them. */
function problemsOf(options: unknown): string[] {
  try {
    resolvePipelineOptions(options as PipelineOptions);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('SLUICE_INVALID_OPTION');
    return (error as InvalidOptionError).problems;
  }
}

const NULL_SINKS = { sink: { type: 'null' }, deadLetter: { type: 'null' } } as const;

describe('resolvePipelineOptions defaults', () => {
  it('no options resolve to every documented default', () => {
    const cpus = availableParallelism();
    const sink = {
      type: 'sqlite',
      path: 'sluice.db',
      table: 'events',
      synchronous: 'normal',
      busyTimeoutMs: 10_000,
    };
    const retry = {
      maxAttempts: Number.POSITIVE_INFINITY,
      initialDelayMs: 50,
      maxDelayMs: 5000,
      maxElapsedMs: 300_000,
      jitter: 'full',
    };
    expect(resolvePipelineOptions()).toEqual({
      queue: {
        capacityBytes: 16 * 1024 * 1024,
        partitions: 1,
        policy: 'block',
        rejectTimeoutMs: 0,
        maxRecordBytes: 1024 * 1024,
        durability: 'memory',
        path: undefined,
        fsync: 'group',
        fsyncIntervalMs: 1000,
        maxDiskBytes: 1024 * 1024 * 1024,
      },
      workers: {
        min: 1,
        max: cpus,
        concurrentBatchesPerWorker: 2,
        taskTimeoutMs: 60_000,
        startupTimeoutMs: 30_000,
        maxYoungGenerationSizeMb: 24,
        concurrentArrayBufferSweeping: false,
      },
      batch: { maxRecords: 5000, maxBytes: 1024 * 1024 },
      transform: undefined,
      sink,
      // Without routes, one: the sink, with the pipeline's retries.
      routes: { default: { sink, retry } },
      defaultRoute: 'default',
      deadLetter: { type: 'ndjson', path: 'dead-letters.ndjson', fsync: 'batch' },
      retry,
      ordering: 'none',
      metrics: { defaultMetrics: false, enabled: true, sinkDownAfterMs: 10_000 },
      log: { level: 'warn', destination: 2, pretty: false },
      maxNestingDepth: 1000,
    });
  });

  it('batch.maxBytes defaults to a sixteenth of the ring, at most 1 MiB, and keeps a value given', () => {
    expect(resolvePipelineOptions({ queue: { capacityBytes: 4 << 20 } }).batch).toEqual({
      maxRecords: 5000,
      maxBytes: 256 << 10,
    });
    expect(resolvePipelineOptions({ queue: { capacityBytes: 64 << 20 } }).batch.maxBytes).toBe(1 << 20);
    expect(
      resolvePipelineOptions({ queue: { capacityBytes: 4 << 20 }, batch: { maxBytes: 3 << 20 } }).batch
        .maxBytes,
    ).toBe(3 << 20);
    const resolved = resolvePipelineOptions({ queue: { capacityBytes: 1 << 20 } });
    expect(resolvePipelineOptions(resolved).batch).toBe(resolved.batch);
  });

  it('workers.max grows to workers.min when only the minimum is given', () => {
    const min = availableParallelism() + 3;
    expect(resolvePipelineOptions({ workers: { min } }).workers).toMatchObject({ min, max: min });
  });

  it('Infinity is accepted for retry.maxAttempts and retry.maxElapsedMs', () => {
    const retry = { maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: Number.POSITIVE_INFINITY };
    expect(resolvePipelineOptions({ retry }).retry).toMatchObject(retry);
  });

  it('module URLs become strings that cross to worker threads', () => {
    const resolved = resolvePipelineOptions({
      transform: new URL('file:///opt/transform.js'),
      sink: { module: new URL('file:///opt/sink.js'), options: { any: ['thing'] } },
    });
    expect(resolved.transform).toBe('file:///opt/transform.js');
    expect(resolved.sink).toEqual({ module: 'file:///opt/sink.js', options: { any: ['thing'] } });
  });

  it("a module sink's writesText is kept when given, absent when not", () => {
    const sink = (spec: unknown) => resolvePipelineOptions({ sink: spec } as PipelineOptions).sink;
    expect(sink({ module: './sink.js', writesText: true })).toEqual({
      module: './sink.js',
      writesText: true,
    });
    expect(sink({ module: './sink.js', writesText: false })).toEqual({
      module: './sink.js',
      writesText: false,
    });
    expect(sink({ module: './sink.js' })).toEqual({ module: './sink.js' });
  });

  it('each built-in sink type resolves with its defaults filled in', () => {
    const sink = (spec: unknown) => resolvePipelineOptions({ sink: spec } as PipelineOptions).sink;
    expect(sink({ type: 'null' })).toEqual({ type: 'null' });
    expect(sink({ type: 'ndjson', path: 'out.ndjson' })).toEqual({
      type: 'ndjson',
      path: 'out.ndjson',
      fsync: 'batch',
    });
    expect(sink({ type: 'postgres', connectionString: 'postgres://db/x', statementTimeoutMs: 1000 })).toEqual(
      {
        type: 'postgres',
        connectionString: 'postgres://db/x',
        table: 'events',
        poolSize: 2,
        statementTimeoutMs: 1000,
        connectTimeoutMs: 10_000,
        queryTimeoutMs: 6000,
        keepAlive: true,
      },
    );
    expect(sink({ type: 'nats-jetstream', subject: 'out.events' })).toEqual({
      type: 'nats-jetstream',
      servers: ['nats://127.0.0.1:4222'],
      subject: 'out.events',
      stream: undefined,
      duplicateWindowMs: 120_000,
      timeoutMs: 5000,
    });
    expect(sink({ type: 'redis-streams', stream: 'out' })).toEqual({
      type: 'redis-streams',
      url: 'redis://127.0.0.1:6379',
      stream: 'out',
      dedupTtlSeconds: 86_400,
      maxLen: undefined,
      timeoutMs: 5000,
    });
  });
});

describe('resolvePipelineOptions refuses a misspelt option instead of ignoring it', () => {
  it.each<[string, unknown, string]>([
    [
      'queue',
      { queue: { bogus: 1 } },
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1',
    ],
    [
      'workers',
      { workers: { threads: 4 } },
      'workers.threads is not a known field (expected one of min, max, concurrentBatchesPerWorker, taskTimeoutMs, startupTimeoutMs, maxYoungGenerationSizeMb, concurrentArrayBufferSweeping), got 4',
    ],
    [
      'batch',
      { batch: { size: 10 } },
      'batch.size is not a known field (expected one of maxRecords, maxBytes), got 10',
    ],
    [
      'retry',
      { retry: { attempts: 3 } },
      'retry.attempts is not a known field (expected one of maxAttempts, initialDelayMs, maxDelayMs, maxElapsedMs, jitter), got 3',
    ],
    [
      'metrics',
      { metrics: { default: true } },
      'metrics.default is not a known field (expected one of defaultMetrics, enabled, sinkDownAfterMs), got true',
    ],
    [
      'log',
      { log: { file: 'x.log' } },
      'log.file is not a known field (expected one of level, destination, pretty), got "x.log"',
    ],
    [
      'the null sink',
      { sink: { type: 'null', path: 'x' } },
      'sink.path is not a known field (expected one of type), got "x"',
    ],
    [
      'the ndjson sink',
      { deadLetter: { type: 'ndjson', path: 'd.ndjson', sync: 'batch' } },
      'deadLetter.sync is not a known field (expected one of type, path, fsync), got "batch"',
    ],
    [
      'the sqlite sink',
      { sink: { type: 'sqlite', path: 'x.db', busyTimeout: 5 } },
      'sink.busyTimeout is not a known field (expected one of type, path, table, synchronous, busyTimeoutMs, columns, onConflict), got 5',
    ],
    [
      'the postgres sink',
      { sink: { type: 'postgres', connectionString: 'postgres://db/x', pool: 4 } },
      'sink.pool is not a known field (expected one of type, connectionString, table, poolSize, statementTimeoutMs, connectTimeoutMs, queryTimeoutMs, keepAlive, columns, onConflict), got 4',
    ],
    [
      'the nats-jetstream sink',
      { sink: { type: 'nats-jetstream', subject: 'a', url: 'nats://x' } },
      'sink.url is not a known field (expected one of type, servers, subject, stream, duplicateWindowMs, timeoutMs), got "nats://x"',
    ],
    [
      'the redis-streams sink',
      { sink: { type: 'redis-streams', stream: 'a', maxLength: 9 } },
      'sink.maxLength is not a known field (expected one of type, url, stream, dedupTtlSeconds, maxLen, timeoutMs), got 9',
    ],
    [
      'a custom sink',
      { sink: { module: './sink.js', option: {} } },
      'sink.option is not a known field (expected one of module, options, writesText), got {}',
    ],
    [
      'the options themselves',
      { queues: {} },
      'queues is not a known field (expected one of queue, workers, batch, transform, sink, routes, defaultRoute, deadLetter, retry, ordering, metrics, log, maxNestingDepth), got {}',
    ],
  ])('an unknown key of %s is named with the known ones', (_where, options, problem) => {
    expect(problemsOf({ ...NULL_SINKS, ...(options as object) })).toEqual([problem]);
  });
});

describe('resolvePipelineOptions validates every option of every built-in sink', () => {
  it.each<[unknown, string]>([
    [{ module: './sink.js', writesText: 'yes' }, 'sink.writesText must be true or false, got "yes"'],
    [{ type: 'ndjson', path: '' }, 'sink.path must be a file path, got ""'],
    [{ type: 'ndjson' }, 'sink.path must be a file path, got undefined'],
    [{ type: 'ndjson', path: 'x', fsync: 'always' }, 'sink.fsync must be "batch" or "never", got "always"'],
    [{ type: 'ndjson', path: 'x', fsync: true }, 'sink.fsync must be "batch" or "never", got true'],
    [{ type: 'sqlite', path: 7 }, 'sink.path must be a file path, got 7'],
    [
      { type: 'sqlite', path: 'x.db', table: 'bad name; drop' },
      'sink.table must be an SQL identifier (letters, digits and _, not starting with a digit, at most 63), got "bad name; drop"',
    ],
    [
      { type: 'sqlite', path: 'x.db', synchronous: 'sometimes' },
      'sink.synchronous must be "normal" or "full", got "sometimes"',
    ],
    [
      { type: 'sqlite', path: 'x.db', busyTimeoutMs: -5 },
      'sink.busyTimeoutMs must be an integer of milliseconds from 0 to 2147483647, got -5',
    ],
    [
      { type: 'sqlite', path: 'x.db', busyTimeoutMs: 2 ** 31 },
      'sink.busyTimeoutMs must be an integer of milliseconds from 0 to 2147483647, got 2147483648',
    ],
    [{ type: 'postgres', connectionString: '' }, 'sink.connectionString must be a connection string, got ""'],
    [
      { type: 'postgres', connectionString: 'postgres://db/x', table: '1st' },
      'sink.table must be an SQL identifier (letters, digits and _, not starting with a digit, at most 63), got "1st"',
    ],
    [
      { type: 'postgres', connectionString: 'postgres://db/x', poolSize: 0 },
      'sink.poolSize must be a positive whole number of connections, got 0',
    ],
    [
      { type: 'postgres', connectionString: 'postgres://db/x', statementTimeoutMs: 1.5 },
      'sink.statementTimeoutMs must be a whole number of ms from 1 to 2147483647, got 1.5',
    ],
    [
      { type: 'postgres', connectionString: 'postgres://db/x', connectTimeoutMs: '10s' },
      'sink.connectTimeoutMs must be a whole number of ms from 1 to 2147483647, got "10s"',
    ],
    [
      { type: 'postgres', connectionString: 'postgres://db/x', queryTimeoutMs: 2 ** 31 },
      'sink.queryTimeoutMs must be a whole number of ms from 1 to 2147483647, got 2147483648',
    ],
    [
      { type: 'postgres', connectionString: 'postgres://db/x', keepAlive: 'yes' },
      'sink.keepAlive must be true or false, got "yes"',
    ],
    [
      { type: 'nats-jetstream', subject: 'events.*' },
      'sink.subject must be a NATS subject without wildcards or whitespace, got "events.*"',
    ],
    [
      { type: 'nats-jetstream', subject: 'a', servers: [] },
      'sink.servers must be a server URL or a non-empty list of them, got []',
    ],
    [
      { type: 'nats-jetstream', subject: 'a', stream: 'A.B' },
      'sink.stream must be a JetStream stream name (no whitespace, ".", "*", ">", "/" or "\\"), got "A.B"',
    ],
    [
      { type: 'nats-jetstream', subject: 'a', duplicateWindowMs: 0 },
      'sink.duplicateWindowMs must be a positive whole number of ms, got 0',
    ],
    [
      { type: 'nats-jetstream', subject: 'a', timeoutMs: 1.5 },
      'sink.timeoutMs must be a positive whole number of ms, got 1.5',
    ],
    [
      { type: 'redis-streams', stream: 'a', url: 'http://127.0.0.1:6379' },
      'sink.url must be a redis:// or rediss:// URL, got "http://127.0.0.1:6379"',
    ],
    [{ type: 'redis-streams', stream: '' }, 'sink.stream must be a non-empty stream key, got ""'],
    [
      { type: 'redis-streams', stream: 'a', dedupTtlSeconds: 0 },
      'sink.dedupTtlSeconds must be a positive whole number of s, got 0',
    ],
    [
      { type: 'redis-streams', stream: 'a', maxLen: 2.5 },
      'sink.maxLen must be a positive whole number of entries, got 2.5',
    ],
    [
      { type: 'redis-streams', stream: 'a', timeoutMs: -1 },
      'sink.timeoutMs must be a positive whole number of ms, got -1',
    ],
    [{ module: '' }, 'sink.module must be a module URL or path, got ""'],
    [
      { type: 'kafka' },
      'sink.type must be one of null, ndjson, sqlite, postgres, nats-jetstream, redis-streams, got "kafka"',
    ],
    ['out.db', 'sink must be a sink spec object, got "out.db"'],
  ])('%j: %s', (sink, problem) => {
    expect(problemsOf({ ...NULL_SINKS, sink })).toEqual([problem]);
  });

  it('a postgres sink without a connection string needs DATABASE_URL when the options are resolved', () => {
    const previous = process.env.DATABASE_URL;
    try {
      delete process.env.DATABASE_URL;
      expect(problemsOf({ ...NULL_SINKS, sink: { type: 'postgres' } })).toEqual([
        'sink.connectionString must be a connection string (DATABASE_URL is not set), got undefined',
      ]);
      process.env.DATABASE_URL = 'postgres://from-env/x';
      expect(resolvePipelineOptions({ sink: { type: 'postgres' } }).sink).toMatchObject({
        connectionString: 'postgres://from-env/x',
      });
    } finally {
      if (previous === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = previous;
    }
  });

  it('the dead-letter sink is validated the same way, named deadLetter', () => {
    expect(problemsOf({ ...NULL_SINKS, deadLetter: { type: 'ndjson', path: 'd', fsync: 'always' } })).toEqual(
      ['deadLetter.fsync must be "batch" or "never", got "always"'],
    );
  });
});

describe('resolvePipelineOptions reports every problem at once', () => {
  it('problems in different groups and sinks are all listed, unknown keys first', () => {
    const problems = problemsOf({
      queue: { capacityBytes: 1000, bogus: 1 },
      workers: { max: 0, startupTimeoutMs: 0 },
      batch: { maxRecords: 0 },
      transform: '',
      sink: {
        type: 'sqlite',
        path: 'x.db',
        table: 'bad name; drop',
        synchronous: 'sometimes',
        busyTimeoutMs: -5,
      },
      deadLetter: { type: 'ndjson', path: 'd.ndjson', fsync: 'always' },
      retry: { maxAttempts: 0, jitter: 'half' },
      ordering: 'strict',
      metrics: { enabled: 'yes' },
      log: { level: 'loud', pretty: 1 },
    });
    expect(problems).toEqual([
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1',
      'queue.capacityBytes must be a power of two from 4096 to 1073741824, got 1000',
      'workers.max must be an integer from 1 to 256, got 0',
      'workers.startupTimeoutMs must be an integer of milliseconds from 1 to 2147483647, got 0',
      'batch.maxRecords must be an integer from 1 to 1000000, got 0',
      'transform must be a module URL or path, got ""',
      'sink.table must be an SQL identifier (letters, digits and _, not starting with a digit, at most 63), got "bad name; drop"',
      'sink.synchronous must be "normal" or "full", got "sometimes"',
      'sink.busyTimeoutMs must be an integer of milliseconds from 0 to 2147483647, got -5',
      'deadLetter.fsync must be "batch" or "never", got "always"',
      'retry.maxAttempts must be an integer ≥ 1 or Infinity, got 0',
      "retry.jitter must be 'full' or 'none', got \"half\"",
      "ordering must be 'none' or 'key', got \"strict\"",
      'metrics.enabled must be true or false, got "yes"',
      'log.level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'log.pretty must be true or false, got 1',
    ]);
  });

  it('the error message lists every problem, and the error carries them as problems', () => {
    try {
      resolvePipelineOptions({ queue: { partitions: 0 }, batch: { maxBytes: -1 } });
    } catch (error) {
      const invalid = error as InvalidOptionError;
      expect(invalid.problems).toEqual([
        'queue.partitions must be an integer from 1 to 1024, got 0',
        'batch.maxBytes must be a positive integer of bytes, got -1',
      ]);
      expect(invalid.message).toBe(invalid.problems.join('; '));
      return;
    }
    throw new Error('resolvePipelineOptions accepted invalid options');
  });

  it('a cross-field rule is checked even when another field is wrong', () => {
    expect(
      problemsOf({
        ...NULL_SINKS,
        queue: { capacityBytes: 4096, maxRecordBytes: 2048, partitions: 0 },
        workers: { min: 3, max: 2, taskTimeoutMs: 0 },
      }),
    ).toEqual([
      'queue.partitions must be an integer from 1 to 1024, got 0',
      'queue.maxRecordBytes must be a multiple of 8 from 64 to capacityBytes / 4 (1024), got 2048',
      'workers.taskTimeoutMs must be a positive integer of milliseconds, got 0',
      'workers.min must be at most workers.max (2), got 3',
    ]);
  });

  it('options that are not an object are one problem', () => {
    expect(problemsOf(5)).toEqual(['options must be an object, got 5']);
    expect(problemsOf({ ...NULL_SINKS, queue: 'big' })).toEqual(['queue must be an object, got "big"']);
  });
});

describe('resolved options are final', () => {
  const options: PipelineOptions = {
    queue: { capacityBytes: 64 * 1024, partitions: 2 },
    workers: { min: 2 },
    transform: new URL('file:///opt/transform.js'),
    sink: { type: 'postgres', connectionString: 'postgres://db/x', statementTimeoutMs: 2000 },
    deadLetter: { type: 'nats-jetstream', subject: 'dead.letters', servers: 'nats://a:4222' },
    retry: { maxAttempts: 5 },
    log: { level: 'info' },
  };

  it('resolving resolved options returns them as they are, without validating again', () => {
    const resolved = resolvePipelineOptions(options);
    expect(resolvePipelineOptions(resolved)).toBe(resolved);
  });

  it('resolving a copy of resolved options (as a worker receives them) gives the same options', () => {
    const resolved = resolvePipelineOptions(options);
    expect(resolvePipelineOptions(structuredClone(resolved))).toEqual(resolved);
  });

  it('resolved options cannot be changed after validation', () => {
    const resolved = resolvePipelineOptions(options);
    expect(Object.isFrozen(resolved)).toBe(true);
    for (const group of [
      'queue',
      'workers',
      'batch',
      'sink',
      'deadLetter',
      'retry',
      'metrics',
      'log',
    ] as const) {
      expect(Object.isFrozen(resolved[group]), group).toBe(true);
    }
    expect(() => {
      (resolved.queue as { partitions: number }).partitions = 0;
    }).toThrow(TypeError);
  });
});
