/**
 * The `sluice run` config: YAML and JSON files, the NATS JetStream and Redis Streams sources, and
 * problems reported all at once, each naming its field and quoting its value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { loadRunConfig, resolveRunConfig } from '../../src/config/run-config.js';
import { RunConfigError } from '../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-run-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Every problem `load` reports, or [] when it succeeds. */
function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
    return [];
  } catch (error) {
    if (error instanceof RunConfigError) return error.errors;
    throw error;
  }
}

const problems = (config: unknown, env: NodeJS.ProcessEnv = {}) =>
  problemsOf(() => resolveRunConfig(config, dir, env));

/** `${NAME}` as it appears in a config file. */
const ref = (name: string) => ['$', '{', name, '}'].join('');
const SQLITE = { type: 'sqlite', path: 'out.db' };

describe('YAML configs', () => {
  it('a .yaml file loads to the same config as its JSON equivalent', () => {
    const json = write(
      'sluice.json',
      JSON.stringify({
        source: { type: 'ndjson', path: 'in.ndjson', maxLineBytes: 4096 },
        transform: './transform.js',
        sink: { type: 'sqlite', path: 'out.db' },
        deadLetter: { type: 'ndjson', path: 'dead.ndjson' },
        workers: { max: 2 },
        ordering: 'key',
        log: { level: 'warn' },
        metrics: { host: '127.0.0.1', port: 0 },
        shutdownTimeoutMs: 5000,
      }),
    );
    const yaml = write(
      'sluice.yaml',
      [
        '# the same config as sluice.json',
        'source:',
        '  type: ndjson',
        '  path: in.ndjson',
        '  maxLineBytes: 4096',
        'transform: ./transform.js',
        'sink: { type: sqlite, path: out.db }',
        'deadLetter:',
        '  type: ndjson',
        '  path: dead.ndjson',
        'workers:',
        '  max: 2',
        'ordering: key',
        'log: { level: warn }',
        'metrics:',
        "  host: '127.0.0.1'",
        '  port: 0',
        'shutdownTimeoutMs: 5000',
        '',
      ].join('\n'),
    );
    const fromYaml = loadRunConfig(yaml, {});
    expect(fromYaml).toEqual(loadRunConfig(json, {}));
    expect(fromYaml.source).toEqual({ type: 'ndjson', path: join(dir, 'in.ndjson'), maxLineBytes: 4096 });
    expect(fromYaml.pipeline.deadLetter).toEqual({
      type: 'ndjson',
      path: join(dir, 'dead.ndjson'),
      fsync: 'batch',
    });
  });

  it('a .yml file is read as YAML too', () => {
    const path = write(
      'sluice.yml',
      'source: { type: synthetic, rate: max }\nsink: { type: sqlite, path: out.db }\n',
    );
    expect(loadRunConfig(path, {}).source).toEqual({ type: 'synthetic', rate: 'max' });
  });

  it('anchors, aliases and merge keys work as in YAML', () => {
    const path = write(
      'sluice.yaml',
      [
        'source: { type: synthetic }',
        'sink: &sqlite',
        '  type: sqlite',
        '  path: out.db',
        'deadLetter:',
        '  <<: *sqlite',
        '  path: dead.db',
        '',
      ].join('\n'),
    );
    const config = loadRunConfig(path, {});
    const sqlite = { type: 'sqlite', table: 'events', synchronous: 'normal', busyTimeoutMs: 10_000 };
    expect(config.pipeline.sink).toEqual({ ...sqlite, path: join(dir, 'out.db') });
    expect(config.pipeline.deadLetter).toEqual({ ...sqlite, path: join(dir, 'dead.db') });
  });

  it('a syntax error is reported with its line and column', () => {
    const path = write(
      'sluice.yaml',
      ['source:', '  type: synthetic', '  rate: max: 5', 'sink: { type: sqlite, path: out.db }', ''].join(
        '\n',
      ),
    );
    expect(problemsOf(() => loadRunConfig(path, {}))).toEqual([
      'the file is not valid YAML at line 3, column 9: Nested mappings are not allowed in compact mappings',
    ]);
  });

  it('every syntax error is reported, not just the first', () => {
    const path = write(
      'sluice.yaml',
      ['source:', '\ttype: synthetic', 'sink: {}', 'sink: {}', ''].join('\n'),
    );
    expect(problemsOf(() => loadRunConfig(path, {}))).toEqual([
      expect.stringMatching(/^the file is not valid YAML at line 2, column 1: Tabs are not allowed/),
      expect.stringMatching(/^the file is not valid YAML at line 4, column 1: Map keys must be unique/),
    ]);
  });

  it('an alias without its anchor is an error naming it', () => {
    const path = write('sluice.yaml', 'source: { type: synthetic }\nsink: *sqlite\n');
    expect(problemsOf(() => loadRunConfig(path, {}))).toEqual([
      expect.stringMatching(/^the file is not valid YAML: Unresolved alias .*: sqlite$/),
    ]);
  });

  it('environment variable references are replaced in YAML, quoted or not, and an unset one names its field', () => {
    const text = [
      'source:',
      '  type: redis-streams',
      `  url: ${ref('REDIS_URL')}`,
      `  stream: "events-${ref('REGION')}"`,
      '  group: sluice',
      `sink: { type: postgres, connectionString: '${ref('DATABASE_URL')}' }`,
      '',
    ].join('\n');
    const path = write('sluice.yaml', text);
    const env = { REDIS_URL: 'redis://cache:6379', REGION: 'eu', DATABASE_URL: 'postgres://db/x' };
    const config = loadRunConfig(path, env);
    expect(config.source).toEqual({
      type: 'redis-streams',
      url: 'redis://cache:6379',
      stream: 'events-eu',
      group: 'sluice',
    });
    expect(config.pipeline.sink).toEqual({
      type: 'postgres',
      connectionString: 'postgres://db/x',
      table: 'events',
      poolSize: 2,
      statementTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      queryTimeoutMs: 35_000,
      keepAlive: true,
    });
    expect(problemsOf(() => loadRunConfig(path, { ...env, REGION: undefined }))).toEqual([
      `source.stream refers to ${ref('REGION')}, which is not set, got "events-${ref('REGION')}"`,
    ]);
  });

  it('an empty YAML file is an error, not an empty config', () => {
    const path = write('sluice.yaml', '# nothing yet\n');
    expect(problemsOf(() => loadRunConfig(path, {}))).toEqual(['config must be an object, got null']);
  });
});

describe('config files that are neither .json nor YAML', () => {
  it('are read as JSON', () => {
    const path = write('sluice.conf', JSON.stringify({ source: { type: 'synthetic' }, sink: SQLITE }));
    expect(loadRunConfig(path, {}).source).toEqual({ type: 'synthetic' });
  });

  it('say that only .yaml and .yml files are read as YAML when they are not JSON', () => {
    const path = write('sluice.conf', 'source: { type: synthetic }\n');
    expect(problemsOf(() => loadRunConfig(path, {}))).toEqual([
      expect.stringMatching(/^the file is not valid JSON \(only \.yaml and \.yml files are read as YAML\): /),
    ]);
  });
});

describe('the nats-jetstream source', () => {
  it('is accepted with only its required fields, its defaults left to the source', () => {
    const source = { type: 'nats-jetstream', stream: 'EVENTS', durable: 'sluice' };
    expect(resolveRunConfig({ source, sink: SQLITE }, dir, {}).source).toEqual(source);
  });

  it('is accepted with every field', () => {
    const source = {
      type: 'nats-jetstream',
      servers: ['nats://a:4222', 'nats://b:4222'],
      stream: 'EVENTS',
      subjects: ['events.>'],
      durable: 'sluice',
      filterSubject: 'events.orders',
      batch: 512,
      ackWaitMs: 10_000,
      maxAckPending: 4096,
    };
    expect(resolveRunConfig({ source, sink: SQLITE }, dir, {}).source).toEqual(source);
    const one = { type: 'nats-jetstream', servers: 'nats://a:4222', stream: 'EVENTS', durable: 'sluice' };
    expect(resolveRunConfig({ source: one, sink: SQLITE }, dir, {}).source).toEqual(one);
  });

  it('a wrong field is named with its value', () => {
    const valid = { type: 'nats-jetstream', stream: 'EVENTS', durable: 'sluice' };
    const bad = (fields: Record<string, unknown>) =>
      problems({ source: { ...valid, ...fields }, sink: SQLITE });
    expect(bad({ batch: 0 })).toEqual(['source.batch must be a positive integer, got 0']);
    expect(bad({ ackWaitMs: 1.5 })).toEqual([
      'source.ackWaitMs must be a positive integer of milliseconds, got 1.5',
    ]);
    expect(bad({ maxAckPending: '100' })).toEqual([
      'source.maxAckPending must be a positive integer, got "100"',
    ]);
    expect(bad({ servers: [] })).toEqual([
      'source.servers must be a server URL or a non-empty array of them, got []',
    ]);
    expect(bad({ servers: ['nats://a:4222', ''] })).toEqual([
      'source.servers[1] must be a server URL, got ""',
    ]);
    expect(bad({ subjects: 'events.>' })).toEqual([
      'source.subjects must be an array of subjects, got "events.>"',
    ]);
    expect(bad({ subjects: ['events.a', ''] })).toEqual(['source.subjects[1] must be a subject, got ""']);
    expect(bad({ filterSubject: 7 })).toEqual(['source.filterSubject must be a subject, got 7']);
    expect(bad({ durable: undefined })).toEqual(['source.durable must be a consumer name, got undefined']);
    expect(bad({ stream: '' })).toEqual(['source.stream must be a stream name, got ""']);
    expect(bad({ consumer: 'x' })).toEqual([
      'source.consumer is not a known field (expected one of type, servers, stream, subjects, durable, filterSubject, batch, ackWaitMs, maxAckPending), got "x"',
    ]);
  });
});

describe('the redis-streams source', () => {
  it('refuses a dropping queue policy, which would acknowledge dropped events’ messages', () => {
    const source = { type: 'redis-streams', stream: 'events', group: 'sluice' };
    for (const policy of ['drop-oldest', 'drop-newest']) {
      const problems = (() => {
        try {
          resolveRunConfig({ source, sink: SQLITE, queue: { policy } }, dir, {});
          return [];
        } catch (error) {
          return (error as RunConfigError).errors;
        }
      })();
      expect(problems).toEqual([
        `queue.policy must be "block" or "reject" with the redis-streams source (a dropped event's message would be acknowledged), got "${policy}"`,
      ]);
    }
    expect(resolveRunConfig({ source, sink: SQLITE, queue: { policy: 'reject' } }, dir, {}).source).toEqual(
      source,
    );
  });

  it('is accepted with only its required fields, its defaults left to the source', () => {
    const source = { type: 'redis-streams', stream: 'events', group: 'sluice' };
    expect(resolveRunConfig({ source, sink: SQLITE }, dir, {}).source).toEqual(source);
  });

  it('is accepted with every field', () => {
    const source = {
      type: 'redis-streams',
      url: 'rediss://cache:6380/2',
      stream: 'events',
      group: 'sluice',
      consumer: 'worker-1',
      batch: 100,
      blockMs: 500,
      claimIdleMs: 60_000,
    };
    expect(resolveRunConfig({ source, sink: SQLITE }, dir, {}).source).toEqual(source);
  });

  it('a wrong field is named with its value', () => {
    const valid = { type: 'redis-streams', stream: 'events', group: 'sluice' };
    const bad = (fields: Record<string, unknown>) =>
      problems({ source: { ...valid, ...fields }, sink: SQLITE });
    expect(bad({ blockMs: -1 })).toEqual([
      'source.blockMs must be a positive integer of milliseconds, got -1',
    ]);
    expect(bad({ claimIdleMs: 0 })).toEqual([
      'source.claimIdleMs must be a positive integer of milliseconds, got 0',
    ]);
    expect(bad({ batch: 2.5 })).toEqual(['source.batch must be a positive integer, got 2.5']);
    expect(bad({ url: '' })).toEqual(['source.url must be a Redis URL, got ""']);
    expect(bad({ group: undefined })).toEqual(['source.group must be a consumer group name, got undefined']);
    expect(bad({ consumer: ['a'] })).toEqual(['source.consumer must be a consumer name, got ["a"]']);
    expect(bad({ durable: 'x' })).toEqual([
      'source.durable is not a known field (expected one of type, url, stream, group, consumer, batch, blockMs, claimIdleMs, field, maxPending), got "x"',
    ]);
  });
});

describe('problems', () => {
  it('a source type is one of the five, and a source must be an object', () => {
    expect(problems({ source: { type: 'kafka' }, sink: SQLITE })).toEqual([
      'source.type must be "synthetic", "ndjson", "http", "nats-jetstream" or "redis-streams", got "kafka"',
    ]);
    expect(problems({ source: 'synthetic', sink: SQLITE })).toEqual([
      'source must be an object with a type (synthetic, ndjson, http, nats-jetstream or redis-streams), got "synthetic"',
    ]);
  });

  it('several problems in a YAML file are reported at once, each naming its field and value', () => {
    const path = write(
      'sluice.yaml',
      [
        'source:',
        '  type: nats-jetstream',
        '  stream: EVENTS',
        '  batch: 0',
        '  ackWait: 5000',
        'sink: { type: sqlite, path: out.db }',
        'queue: { capacityBytes: 1000 }',
        `metrics: { host: '${ref('METRICS_HOST')}', port: 70000 }`,
        'shutdownTimeoutMs: soon',
        'sinks: []',
        '',
      ].join('\n'),
    );
    expect(problemsOf(() => loadRunConfig(path, {}))).toEqual([
      `metrics.host refers to ${ref('METRICS_HOST')}, which is not set, got "${ref('METRICS_HOST')}"`,
      'source.ackWait is not a known field (expected one of type, servers, stream, subjects, durable, filterSubject, batch, ackWaitMs, maxAckPending), got 5000',
      expect.stringMatching(/^sinks is not a known field \(expected one of source, .*\), got \[\]$/),
      'source.durable must be a consumer name, got undefined',
      'source.batch must be a positive integer, got 0',
      'metrics.port must be a port from 0 to 65535, got 70000',
      'shutdownTimeoutMs must be an integer of milliseconds from 1 to 2147483647, got "soon"',
      'queue.capacityBytes must be a power of two from 4096 to 1073741824, got 1000',
    ]);
  });

  it('a config that is not an object is named as the config', () => {
    expect(problems([{ source: { type: 'synthetic' } }])).toEqual([
      'config must be an object, got [{"source":{"type":"synthetic"}}]',
    ]);
  });

  it('a "__proto__" key is an unknown field, not a prototype', () => {
    const config = JSON.parse('{"source":{"type":"synthetic"},"sink":{"type":"null"},"__proto__":{"x":1}}');
    expect(problems(config)).toEqual([
      expect.stringMatching(/^__proto__ is not a known field \(expected one of source, .*\), got \{"x":1\}$/),
    ]);
  });

  it('metrics and log must be objects', () => {
    expect(problems({ source: { type: 'synthetic' }, sink: SQLITE, metrics: 9464, log: 'debug' })).toEqual([
      'log must be an object, got "debug"',
      'metrics must be an object { host?, port?, defaultMetrics?, sinkDownAfterMs? }, got 9464',
    ]);
  });
});

describe('pipeline options in a run config', () => {
  it('are validated by the schemas createPipeline uses, every problem listed with the rest of the file', () => {
    expect(
      problems({
        source: { type: 'synthetic', rate: 0 },
        sink: {
          type: 'sqlite',
          path: 'out.db',
          table: 'bad name; drop',
          synchronous: 'sometimes',
          busyTimeoutMs: -5,
        },
        deadLetter: { type: 'ndjson', path: 'dead.ndjson', fsync: 'always' },
        queue: { bogus: 1 },
        workers: { max: 0 },
        retry: { jitter: 'half' },
        log: { level: 'loud' },
        metrics: { port: 70000, defaultMetrics: 'yes' },
      }),
    ).toEqual([
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1',
      'source.rate must be a positive number or "max", got 0',
      'sink.table must be an SQL identifier (letters, digits and _, not starting with a digit, at most 63), got "bad name; drop"',
      'sink.synchronous must be "normal" or "full", got "sometimes"',
      'sink.busyTimeoutMs must be an integer of milliseconds from 0 to 2147483647, got -5',
      'deadLetter.fsync must be "batch" or "never", got "always"',
      'log.level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'metrics.port must be a port from 0 to 65535, got 70000',
      'metrics.defaultMetrics must be true or false, got "yes"',
      'workers.max must be an integer from 1 to 256, got 0',
      "retry.jitter must be 'full' or 'none', got \"half\"",
    ]);
  });

  it('resolve to the options createPipeline receives, defaults filled in and paths resolved', () => {
    const config = resolveRunConfig(
      {
        source: { type: 'synthetic' },
        transform: './transform.js',
        sink: { type: 'ndjson', path: 'out.ndjson', fsync: 'never' },
        queue: { capacityBytes: 65_536 },
        retry: { maxAttempts: 3 },
      },
      dir,
      {},
    );
    expect(config.pipeline).toEqual(
      resolvePipelineOptions({
        transform: join(dir, 'transform.js'),
        sink: { type: 'ndjson', path: join(dir, 'out.ndjson'), fsync: 'never' },
        queue: { capacityBytes: 65_536 },
        retry: { maxAttempts: 3 },
        log: { level: 'info' },
      }),
    );
    expect(config.pipeline.queue.maxRecordBytes).toBe(16_384);
    expect(resolvePipelineOptions(config.pipeline)).toBe(config.pipeline);
  });

  it('metrics.defaultMetrics adds the process metrics to the served ones, on unless turned off', () => {
    const run = (metrics: unknown) =>
      resolveRunConfig({ source: { type: 'synthetic' }, sink: SQLITE, metrics }, dir, {});
    const served = run({ port: 0 });
    expect(served.metrics).toEqual({ port: 0 });
    expect(served.pipeline.metrics).toEqual({ defaultMetrics: true, enabled: true, sinkDownAfterMs: 10_000 });
    const off = run({ port: 0, defaultMetrics: false });
    expect(off.metrics).toEqual({ port: 0 });
    expect(off.pipeline.metrics).toEqual({ defaultMetrics: false, enabled: true, sinkDownAfterMs: 10_000 });
    // Without a metrics server nothing reads them.
    expect(run(undefined).pipeline.metrics).toEqual({
      defaultMetrics: false,
      enabled: true,
      sinkDownAfterMs: 10_000,
    });
  });

  it('metrics.sinkDownAfterMs reaches the pipeline, and a bad one is named with its value', () => {
    const run = (metrics: unknown) =>
      resolveRunConfig({ source: { type: 'synthetic' }, sink: SQLITE, metrics }, dir, {});
    const config = run({ port: 0, sinkDownAfterMs: 2500 });
    expect(config.metrics).toEqual({ port: 0 });
    expect(config.pipeline.metrics.sinkDownAfterMs).toBe(2500);
    expect(() => run({ port: 0, sinkDownAfterMs: 'soon' })).toThrow(
      'metrics.sinkDownAfterMs must be an integer of milliseconds ≥ 0, got "soon"',
    );
  });
});
