/**
 * The compliance suite every sink's test file runs (after Vector's
 * `run_and_assert_sink_compliance`). It registers one `describe` of tests that hold for any sink:
 *
 * (a) writing the same batch twice stores each event once — or, for a sink that says it is not
 *     idempotent, at least once (readers of such a sink deduplicate by id);
 * (b) a write that resolved is visible to a fresh reader (new connection, new file read): the sink
 *     acknowledges only what it has made durable;
 * (c) when what the sink depends on fails, the write (or open) rejects with a SinkError marked
 *     retryable — and, where the failure can be undone, the next write succeeds;
 * (d) close resolves, the stored events outlive it, and closing again is harmless (documented
 *     here as the contract: close is idempotent).
 *
 * Beside it: brokerSinkCases, the tests an idempotent sink writing to a networked broker passes
 * (NATS JetStream, Redis Streams), with sinksClosedAfterEach to open its sinks; and
 * sinkOptionCases, how a sink type's spec is validated and its errors named.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import type { Sink } from '../../src/sinks/sink.js';
import type { ResolvedSinkSpecOf, SinkSpec } from '../../src/sinks/sink-spec.js';
import { FaultProxy } from './fault-proxy.js';

export interface FailureScenario {
  /** Finishes the sentence "…when <description>". */
  description: string;
  /** A sink to fail. The helper opens it, unless the failure is expected at open. */
  makeSink(): Sink | Promise<Sink>;
  /** Where the failure shows. @default 'write' */
  failsAt?: 'open' | 'write';
  /** Breaks what the opened sink depends on (omit when makeSink already built a broken sink). */
  breakIt?(): void | Promise<void>;
  /** Undoes breakIt; the next write must then succeed. Omit when the failure cannot be undone. */
  repair?(): void | Promise<void>;
}

export interface SinkComplianceOptions {
  /** Shown in the describe block. */
  name: string;
  /**
   * Whether the sink stores events a reader can find. The null sink does not: (a) and (b) then
   * check only that writes resolve and nothing is found.
   * @default true
   */
  stores?: boolean;
  /** Ways to make the sink fail transiently; at least one unless the sink cannot fail. */
  failures?: FailureScenario[];
  /** Records per test batch. @default 40 */
  batchSize?: number;
}

let batchCounter = 0;

/** A batch of records with run-unique ids and the fields a sink must carry. */
export function complianceBatch(size: number, label = 'batch'): SinkRecord[] {
  const run = `${label}-${process.pid}-${++batchCounter}-${Math.random().toString(36).slice(2, 8)}`;
  return Array.from({ length: size }, (_, i) => ({
    id: `${run}-${i}`,
    key: `key-${i % 5}`,
    source: 'compliance',
    ts: 1_700_000_000_000 + i,
    payload: { i, text: `événement ${i} ✓`, nested: { list: [i, i + 1], flag: i % 2 === 0 } },
  }));
}

function countsOf(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

export function runSinkCompliance(
  makeSink: () => Sink | Promise<Sink>,
  readIds: () => Promise<string[]>,
  opts: SinkComplianceOptions,
): void {
  const stores = opts.stores ?? true;
  const size = opts.batchSize ?? 40;
  const opened: Sink[] = [];
  const repairs: (() => void | Promise<void>)[] = [];

  async function openSink(): Promise<Sink> {
    const sink = await makeSink();
    opened.push(sink);
    await sink.open();
    return sink;
  }

  describe(`${opts.name} sink compliance`, () => {
    afterEach(async () => {
      for (const repair of repairs.splice(0)) await repair();
      await Promise.allSettled(opened.splice(0).map((sink) => sink.close()));
    });

    if (!stores) {
      it('accepts any batch, twice, and stores nothing a reader could find', async () => {
        const sink = await openSink();
        const batch = complianceBatch(size);
        await expect(sink.write(batch)).resolves.toBeUndefined();
        await expect(sink.write(batch)).resolves.toBeUndefined();
        const found = new Set(await readIds());
        expect(batch.filter((r) => found.has(r.id))).toEqual([]);
      });
    } else {
      it('stores each event of a batch written twice once if it is idempotent, and at least once if it says it is not', async () => {
        const sink = await openSink();
        const batch = complianceBatch(size);
        await sink.write(batch);
        await sink.write(batch);
        const counts = countsOf(await readIds());
        const perEvent = batch.map((r) => counts.get(r.id) ?? 0);
        if (sink.idempotent) {
          expect(perEvent).toEqual(batch.map(() => 1));
        } else {
          // Not idempotent (declared by the sink): a rewrite may duplicate, but never lose.
          expect(perEvent.every((n) => n >= 1)).toBe(true);
        }
      });

      it('stores each event once (at least once if not idempotent) when a rewrite overlaps a batch already written', async () => {
        const sink = await openSink();
        const first = complianceBatch(size);
        const second = complianceBatch(size);
        const overlap = [...first.slice(size / 2), ...second];
        await sink.write(first);
        await sink.write(overlap);
        const counts = countsOf(await readIds());
        const expected = sink.idempotent ? 1 : undefined;
        for (const record of [...first, ...second]) {
          const n = counts.get(record.id) ?? 0;
          if (expected === undefined) expect(n).toBeGreaterThanOrEqual(1);
          else expect(n, record.id).toBe(expected);
        }
      });

      it('acknowledges a write only once a fresh reader can see every event of it', async () => {
        const sink = await openSink();
        const batch = complianceBatch(size);
        const before = new Set(await readIds());
        expect(batch.some((r) => before.has(r.id))).toBe(false);
        await sink.write(batch);
        const after = new Set(await readIds());
        expect(batch.filter((r) => !after.has(r.id)).map((r) => r.id)).toEqual([]);
      });
    }

    for (const scenario of opts.failures ?? []) {
      const failsAt = scenario.failsAt ?? 'write';
      const what = failsAt === 'open' ? 'an open' : 'a write';
      const title = scenario.repair
        ? `rejects ${what} with a retryable SinkError when ${scenario.description}, and writes again once repaired`
        : `rejects ${what} with a retryable SinkError when ${scenario.description}`;
      it(title, async () => {
        const sink = await scenario.makeSink();
        opened.push(sink);
        const retryable = { code: 'SLUICE_SINK_ERROR', retryable: true };
        if (failsAt === 'open') {
          await expect(sink.open()).rejects.toMatchObject(retryable);
          return;
        }
        await sink.open();
        if (scenario.repair) repairs.push(scenario.repair);
        await scenario.breakIt?.();
        const batch = complianceBatch(size, 'failing');
        await expect(sink.write(batch)).rejects.toMatchObject(retryable);
        if (!scenario.repair) return;
        await repairs.pop()!();
        await sink.write(batch);
        if (stores) {
          const found = new Set(await readIds());
          expect(batch.filter((r) => !found.has(r.id)).map((r) => r.id)).toEqual([]);
        }
      });
    }

    it('closes cleanly, keeps what it stored, and a second close resolves too (close is idempotent)', async () => {
      const sink = await makeSink();
      await sink.open();
      const batch = complianceBatch(size);
      await sink.write(batch);
      await expect(sink.close()).resolves.toBeUndefined();
      await expect(sink.close()).resolves.toBeUndefined();
      if (stores) {
        const found = new Set(await readIds());
        expect(batch.filter((r) => !found.has(r.id)).map((r) => r.id)).toEqual([]);
      }
    });
  });
}

/** The sinks one describe block makes, each closed after every test of it. */
export interface SinksClosedAfterEach<S extends Sink, O> {
  /** A sink with `options` over the file's defaults, not yet opened. */
  make(options?: Partial<O>): S;
  /** A sink with `options` over the file's defaults, opened. */
  open(options?: Partial<O>): Promise<S>;
}

/** Registers, in the calling describe block, an afterEach closing every sink made through it. */
export function sinksClosedAfterEach<S extends Sink, O>(
  makeSink: (options?: Partial<O>) => S,
): SinksClosedAfterEach<S, O> {
  const sinks: S[] = [];
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
  });
  const make = (options?: Partial<O>): S => {
    const sink = makeSink(options);
    sinks.push(sink);
    return sink;
  };
  return {
    make,
    async open(options) {
      const sink = make(options);
      await sink.open();
      return sink;
    },
  };
}

/** A fault proxy in front of the server at `url`, which a test can cut and restore as a broker restart would. */
export function proxyTo(url: string): Promise<FaultProxy> {
  const target = new URL(url);
  return FaultProxy.start({ host: target.hostname, port: Number(target.port) });
}

/** Writes until a write succeeds, as the delivery layer's retries would; returns the failures. */
export async function writeUntilStored(sink: Sink, batch: SinkRecord[]): Promise<unknown[]> {
  const failures: unknown[] = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await sink.write(batch);
      return failures;
    } catch (error) {
      failures.push(error);
      if (Date.now() > deadline) throw error;
    }
  }
}

export interface BrokerSinkCasesOptions<S extends Sink, O extends { timeoutMs?: number }> {
  /** How the calling block makes and opens its sinks (see sinksClosedAfterEach). */
  sinks: SinksClosedAfterEach<S, O>;
  /** Every record id stored where a sink opened with no options writes, read by a fresh reader. */
  readIds(): Promise<string[]>;
  /** Options for a sink writing where no other test writes (`label` names it), and how to read it back. */
  freshTarget(label: string): { options: Partial<O>; readIds(): Promise<string[]> };
  /** Whether a batch is stored in its order (else only its set of ids is compared). */
  keepsBatchOrder: boolean;
  /** The URL of the real server the file's sinks use. */
  serverUrl: string;
  /** Options pointing a sink at another server, given as a URL of the same scheme. */
  at(url: string): Partial<O>;
  /** What, besides the address, the error of an open against a refusing port must mention. */
  unreachableSays?: string[];
}

/**
 * Tests every idempotent sink writing to a networked broker passes, registered in the calling
 * describe block: dedup across sinks and within a batch, a large batch, and how it fails while the
 * server is unreachable or the connection is cut.
 */
export function brokerSinkCases<S extends Sink, O extends { timeoutMs?: number }>(
  opts: BrokerSinkCasesOptions<S, O>,
): void {
  const { sinks, readIds } = opts;
  const scheme = new URL(opts.serverUrl).protocol;

  it('stores a batch written twice, by two sinks as two workers would, once per id', async () => {
    const [first, second] = [await sinks.open(), await sinks.open()];
    const batch = complianceBatch(25, 'two-workers');
    await Promise.all([first.write(batch), second.write(batch)]);
    await first.write(batch);
    const ids = new Set(batch.map((r) => r.id));
    const stored = (await readIds()).filter((id) => ids.has(id));
    expect(stored.sort()).toEqual([...ids].sort());
  });

  it('stores a batch of 5000 records, each once', async () => {
    const target = opts.freshTarget('large');
    const sink = await sinks.open(target.options);
    const batch = complianceBatch(5000, 'large');
    await sink.write(batch);
    const stored = await target.readIds();
    const written = batch.map((r) => r.id);
    if (opts.keepsBatchOrder) expect(stored).toEqual(written);
    else expect(stored.sort()).toEqual(written.sort());
  });

  it('stores a record whose id appears twice in one batch once', async () => {
    const sink = await sinks.open();
    const [a, b] = complianceBatch(2, 'repeat');
    await sink.write([a!, b!, a!]);
    expect((await readIds()).filter((id) => id === a!.id || id === b!.id).sort()).toEqual(
      [a!.id, b!.id].sort(),
    );
  });

  it('fails an open against an unreachable server at once with a retryable SinkError, not after its timeout', async () => {
    const unreachable = `${scheme}//127.0.0.1:1`;
    const sink = sinks.make({ ...opts.at(unreachable), timeoutMs: 20_000 });
    const started = Date.now();
    const error = await sink.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
    expect((error as Error).message).toContain(unreachable);
    for (const words of opts.unreachableSays ?? []) expect((error as Error).message).toContain(words);
    expect((error as Error).cause).toBeDefined();
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('fails writes retryably while the connection is cut, and stores again once the server is back, without reopening', async () => {
    const proxy = await proxyTo(opts.serverUrl);
    try {
      const sink = await sinks.open({ ...opts.at(`${scheme}//127.0.0.1:${proxy.port}`), timeoutMs: 500 });
      proxy.cut();
      expect(proxy.counters.cut).toBeGreaterThan(0);
      const acceptedAtCut = proxy.counters.accepted;
      const lost = complianceBatch(5, 'cut');
      await expect(sink.write(lost)).rejects.toMatchObject({ code: 'SLUICE_SINK_ERROR', retryable: true });
      proxy.restore();
      const failures = await writeUntilStored(sink, lost);
      expect(failures.every((e) => (e as { retryable?: boolean }).retryable === true)).toBe(true);
      // The client connected again through the proxy on its own: the sink was not reopened.
      expect(proxy.counters.accepted).toBeGreaterThan(acceptedAtCut);
      const counts = countsOf(await readIds());
      expect(lost.map((r) => counts.get(r.id))).toEqual(lost.map(() => 1));
    } finally {
      await proxy.close();
    }
  });

  it('fails writes retryably while its connection is half-open, and stores over a fresh connection, without reopening', async () => {
    const proxy = await proxyTo(opts.serverUrl);
    try {
      const sink = await sinks.open({ ...opts.at(`${scheme}//127.0.0.1:${proxy.port}`), timeoutMs: 500 });
      await sink.write(complianceBatch(2, 'before-half-open'));
      // The live connection never answers again and is never closed; a new one reaches the server.
      proxy.strandLive();
      const acceptedAtStrand = proxy.counters.accepted;
      const batch = complianceBatch(5, 'half-open');
      const failures = await writeUntilStored(sink, batch);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((e) => (e as { retryable?: boolean }).retryable === true)).toBe(true);
      expect(proxy.counters.accepted).toBeGreaterThan(acceptedAtStrand);
      const counts = countsOf(await readIds());
      expect(batch.map((r) => counts.get(r.id))).toEqual(batch.map(() => 1));
    } finally {
      await proxy.close();
    }
  });
}

export interface SinkOptionCasesOptions<Spec extends SinkSpec & { type: string }> {
  /** A valid spec giving only its type and the one option it requires. */
  valid: Spec;
  /** The option `valid` gives besides its type. */
  required: string;
  /** `valid` resolved: every other option at its default. */
  resolved: ResolvedSinkSpecOf<Spec>;
  /** Builds the sink from a resolved spec, as a worker does (it does not validate again). */
  construct(spec: ResolvedSinkSpecOf<Spec>): unknown;
  /** Wrong specs: the field the error names, what overrides `valid`, and how the error quotes it. */
  invalid: [field: string, override: Record<string, unknown>, got: string][];
}

/** A describe block checking that a sink type's spec is validated up front, and how errors name it. */
export function sinkOptionCases<Spec extends SinkSpec & { type: string }>(
  opts: SinkOptionCasesOptions<Spec>,
): void {
  describe(`${opts.valid.type} sink options`, () => {
    it(`are accepted with only a ${opts.required}, the rest defaulted, and build a sink as resolved`, () => {
      const resolved = resolveSinkSpec(opts.valid, 'sink');
      expect(resolved).toEqual(opts.resolved);
      expect(() => opts.construct(resolved)).not.toThrow();
    });

    it.each(opts.invalid)('name %s and quote the value when it is wrong (%j)', (field, override, got) => {
      const spec = { ...opts.valid, ...override } as Spec;
      const error = thrownBy(() => resolveSinkSpec(spec, 'sink'));
      expect(error).toMatchObject({ code: 'SLUICE_INVALID_OPTION' });
      expect(error.message.startsWith(`${field} must be `), error.message).toBe(true);
      expect(error.message.endsWith(`, ${got}`), error.message).toBe(true);
    });

    it('name the dead-letter field when the spec is the dead-letter sink', () => {
      const spec = { ...opts.valid, [opts.required]: '' } as Spec;
      expect(() => resolveSinkSpec(spec, 'deadLetter')).toThrow(
        new RegExp(`^deadLetter\\.${opts.required} must be`),
      );
    });
  });
}

function thrownBy(attempt: () => unknown): Error {
  try {
    attempt();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
