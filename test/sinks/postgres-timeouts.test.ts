/**
 * A PostgreSQL server that accepts connections and then never answers, made by a fault proxy in
 * black-hole mode: the sink's connect and query timeouts fail open() and write() retryably, where
 * without them they would wait for ever, and once the server answers again the sink writes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { PostgresSink, type PostgresSinkOptions } from '../../src/sinks/postgres-sink.js';
import { uniqueName } from '../helpers/engine.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  readPostgresIds,
  requirePostgres,
} from '../helpers/postgres.js';
import { complianceBatch } from '../helpers/sink-compliance.js';

announcePostgres('postgres-timeouts');

/** Short enough to keep the tests quick, far below the 60 s a task may take. */
const CONNECT_TIMEOUT_MS = 500;
const QUERY_TIMEOUT_MS = 500;

describe.skipIf(postgresSkip)('PostgresSink against a server that stops answering', () => {
  const table = uniqueName('sluice_timeouts');
  const sinks: PostgresSink[] = [];
  let proxy: FaultProxy;

  beforeAll(requirePostgres);
  beforeAll(async () => {
    const target = new URL(POSTGRES_URL);
    proxy = await FaultProxy.start({
      host: target.hostname || '127.0.0.1',
      port: Number(target.port || 5432),
    });
  });
  afterEach(async () => {
    proxy.restore();
    await Promise.all(sinks.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await proxy?.close();
    await dropTable(table);
  });

  /** A sink reaching the server through the proxy, with short client-side timeouts. */
  function sinkThroughProxy(options: Partial<PostgresSinkOptions> = {}): PostgresSink {
    const url = new URL(POSTGRES_URL);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const sink = new PostgresSink(
      resolveSinkSpec({
        type: 'postgres',
        connectionString: url.href,
        table,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        queryTimeoutMs: QUERY_TIMEOUT_MS,
        ...options,
      }),
    );
    sinks.push(sink);
    return sink;
  }

  it('fails open retryably after connectTimeoutMs when the server accepts and never answers, and opens once it answers', async () => {
    proxy.blackhole();
    const swallowedBefore = proxy.counters.swallowed;
    const error = await sinkThroughProxy()
      .open()
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
    expect(error?.message).toContain(`no answer within connectTimeoutMs (${CONNECT_TIMEOUT_MS} ms)`);
    // The connection reached the black hole: the open failed on the timeout, not on a refusal.
    expect(proxy.counters.swallowed).toBeGreaterThan(swallowedBefore);

    proxy.restore();
    // A failed open is retried with a new sink, as a worker does.
    const sink = sinkThroughProxy();
    await sink.open();
    const batch = complianceBatch(5, 'after-connect-timeout');
    await sink.write(batch);
    const stored = new Set(await readPostgresIds(table));
    expect(batch.filter((r) => !stored.has(r.id))).toEqual([]);
  });

  it('fails a write retryably after queryTimeoutMs when the server stops answering mid-connection, and writes again once it answers, without reopening', async () => {
    const sink = sinkThroughProxy();
    await sink.open();
    const before = complianceBatch(3, 'before-silence');
    await sink.write(before);

    // The pool's open connection goes silent: the write is sent and never answered.
    proxy.blackhole();
    expect(proxy.counters.swallowed).toBeGreaterThan(0);
    const lost = complianceBatch(5, 'query-timeout');
    const error = await sink.write(lost).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
    expect(error?.message).toContain(`no answer within queryTimeoutMs (${QUERY_TIMEOUT_MS} ms)`);

    proxy.restore();
    const acceptedAtRestore = proxy.counters.accepted;
    await sink.write(lost);
    // The pool dropped the silent connection and made a new one on its own.
    expect(proxy.counters.accepted).toBeGreaterThan(acceptedAtRestore);
    const counts = new Map<string, number>();
    for (const id of await readPostgresIds(table)) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...before, ...lost].map((r) => counts.get(r.id))).toEqual([...before, ...lost].map(() => 1));
  });
});
