/**
 * Routes and fan-out: every event reaches each route it was sent to exactly once (counted by id),
 * what no route takes is dead-lettered as `unknown-route`, and an event is settled only once every
 * route it went to has written it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { prng } from '../../src/harness/prng.js';
import { createControl, FAILING, RECORDS_STORED, WRITES_FAILED } from '../fixtures/engine/control.js';
import { createRecordingTable } from '../fixtures/engine/recording-table.js';
import {
  distinctSorted,
  fixtureUrl,
  ids,
  openGate,
  readDeadLetters,
  readRows,
  turns,
  uniqueName,
  useScenes,
  waitForWord,
  watch,
} from '../helpers/engine.js';

const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 20, jitter: 'none' } as const;

describe('routes', () => {
  const scene = useScenes();

  /** A second recording table in the scene's database, for a second route. */
  function table(dbPath: string, unique = true): string {
    const name = uniqueName('route');
    const db = new Database(dbPath);
    createRecordingTable(db, name, unique);
    db.close();
    return name;
  }

  function ndjsonIds(path: string): string[] {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => (JSON.parse(line) as { id: string }).id);
  }

  it.each([1, 2, 3, 4, 5])(
    'seed %i: the transform sends each event to its routes — one, several or the default — each stored once by id, unknown names dead-lettered',
    async (seed) => {
      const s = scene();
      const audit = table(s.dbPath);
      const archive = join(s.dir, 'archive.ndjson');
      const pipeline = await s.pipeline({
        transform: fixtureUrl('route-transform'),
        // The top-level sink is the route `default`, and the default route.
        sink: { type: 'ndjson', path: archive },
        routes: {
          orders: { sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() } },
          audit: { sink: { module: fixtureUrl('test-sink'), options: { path: s.dbPath, table: audit } } },
        },
        deadLetter: { type: 'ndjson', path: s.deadLetterPath },
        workers: { min: 2, max: 2 },
        batch: { maxRecords: 37 },
      });
      const random = prng(seed);
      const expected = {
        orders: [] as string[],
        audit: [] as string[],
        default: [] as string[],
        unknown: [] as string[],
      };
      const events = ids(`s${seed}`, 800).map((id) => {
        const pick = Math.floor(random() * 6);
        const to = [
          'orders',
          ['orders', 'audit'],
          undefined,
          ['audit', 'default', 'audit'],
          'nope',
          ['orders', 'missing'],
        ][pick];
        if (pick === 0 || pick === 1) expected.orders.push(id);
        if (pick === 1 || pick === 3) expected.audit.push(id);
        if (pick === 2 || pick === 3) expected.default.push(id);
        if (pick >= 4) expected.unknown.push(id);
        return { id, key: `k${pick}`, payload: to === undefined ? { pick } : { pick, to } };
      });
      expect(await pipeline.pushMany(events)).toBe(events.length);
      await pipeline.drained();

      const orderRows = s.rows();
      expect(orderRows.map((r) => r.id).sort()).toEqual(expected.orders.sort());
      expect(orderRows.every((r) => (r.payload as { routed: boolean }).routed)).toBe(true);
      expect(
        readRows(s.dbPath, audit)
          .map((r) => r.id)
          .sort(),
      ).toEqual(expected.audit.sort());
      expect(ndjsonIds(archive).sort()).toEqual(expected.default.sort());
      const letters = s.deadLetters();
      expect(letters.map((l) => l.id).sort()).toEqual(expected.unknown.sort());
      for (const { letter } of letters) {
        expect(letter.reason).toBe('unknown-route');
        expect(letter.lastError).toMatch(
          /no route named "(nope|missing)" \(routes: default, orders, audit\)/,
        );
      }
      const stats = pipeline.stats();
      // Events, once each however many routes wrote them; each route's writes in its own counter.
      const routedIds = new Set([...expected.orders, ...expected.audit, ...expected.default]);
      expect(stats.written).toBe(routedIds.size);
      expect(stats.writtenByRoute).toEqual({
        default: expected.default.length,
        orders: expected.orders.length,
        audit: expected.audit.length,
      });
      const text = await pipeline.metrics.metrics();
      for (const [route, list] of [
        ['orders', expected.orders],
        ['audit', expected.audit],
        ['default', expected.default],
      ] as const)
        expect(text).toMatch(
          new RegExp(`^sluice_events_written_total\\{route="${route}",sink="\\w+"\\} ${list.length}$`, 'm'),
        );
      expect(stats.deadLettered).toBe(expected.unknown.length);
    },
  );

  it('routes by when rules without a transform: equals, in and matches; several matches fan out; the rest to defaultRoute, byte for byte', async () => {
    const s = scene();
    const big = join(s.dir, 'big.ndjson');
    const eu = join(s.dir, 'eu.ndjson');
    const errors = join(s.dir, 'errors.ndjson');
    const rest = join(s.dir, 'rest.ndjson');
    const pipeline = await s.pipeline({
      routes: {
        big: { sink: { type: 'ndjson', path: big }, when: { path: 'payload.order.tier', equals: 'gold' } },
        eu: { sink: { type: 'ndjson', path: eu }, when: { path: 'payload.country', in: ['FR', 'DE', 1] } },
        errors: { sink: { type: 'ndjson', path: errors }, when: { path: 'source', matches: '^err-' } },
        rest: { sink: { type: 'ndjson', path: rest } },
      },
      defaultRoute: 'rest',
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    // A raw line is its event's payload: `payload.x` is the line's top-level field x.
    const lines = [
      '{"id":"a","order":{"tier":"gold"},"country":"FR","n":12345678901234567890}',
      '{"id":"b","order":{"tier":"silver"},"country":"US"}',
      '{"id":"c","source":"err-db","country":"DE","x":1e-400}',
      '{"id":"d","country":1}',
      '{"id":"e","country":"1"}',
      '{"id":"f","order":[1,2]}',
      '{"id":"g","source":"ok-err-","order":{"tier":null}}',
    ];
    expect(await pipeline.pushRawMany(lines)).toBe(lines.length);
    await pipeline.drained();
    expect(ndjsonIds(big)).toEqual(['a']);
    expect(ndjsonIds(eu).sort()).toEqual(['a', 'c', 'd']);
    expect(ndjsonIds(errors)).toEqual(['c']);
    expect(ndjsonIds(rest).sort()).toEqual(['b', 'e', 'f', 'g']);
    // An untouched payload reaches each of its routes as the bytes it was pushed as.
    for (const file of [big, eu])
      expect(readFileSync(file, 'utf8')).toContain(
        '"payload":{"id":"a","order":{"tier":"gold"},"country":"FR","n":12345678901234567890}',
      );
    expect(readFileSync(errors, 'utf8')).toContain('"x":1e-400');
    expect(s.deadLetters()).toEqual([]);
  });

  it('dead-letters as unknown-route an event no rule matches when there is no defaultRoute, and a route that is not a name as invalid-transform-output', async () => {
    const s = scene();
    const gold = join(s.dir, 'gold.ndjson');
    const pipeline = await s.pipeline({
      transform: fixtureUrl('route-transform'),
      routes: {
        gold: { sink: { type: 'ndjson', path: gold }, when: { path: 'payload.tier', equals: 'gold' } },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushMany([
      { id: 'g', payload: { tier: 'gold' } },
      { id: 's', payload: { tier: 'silver' } },
      { id: 'n', payload: { tier: 'gold', to: 42 } },
      { id: 'e', payload: { tier: 'gold', to: [] } },
    ]);
    await pipeline.drained();
    expect(ndjsonIds(gold)).toEqual(['g']);
    const letters = Object.fromEntries(s.deadLetters().map((l) => [l.id, l.letter]));
    expect(Object.keys(letters).sort()).toEqual(['e', 'n', 's']);
    expect(letters.s!.reason).toBe('unknown-route');
    expect(letters.s!.lastError).toMatch(
      /no route was named, no when rule matched and there is no defaultRoute/,
    );
    expect(letters.n!.reason).toBe('invalid-transform-output');
    expect(letters.n!.lastError).toMatch(/route must be a route name or a non-empty array of names, got 42/);
    expect(letters.e!.reason).toBe('invalid-transform-output');
  });

  it('with only a sink, an output naming a route the pipeline does not have is dead-lettered as unknown-route; one naming the sink’s route is written', async () => {
    const s = scene();
    const out = join(s.dir, 'out.ndjson');
    const pipeline = await s.pipeline({
      transform: fixtureUrl('route-transform'),
      sink: { type: 'ndjson', path: out },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushMany([
      { id: 'plain', payload: {} },
      { id: 'named', payload: { to: 'default' } },
      { id: 'nowhere', payload: { to: 'nowhere' } },
    ]);
    await pipeline.drained();
    expect(ndjsonIds(out).sort()).toEqual(['named', 'plain']);
    const letters = s.deadLetters();
    expect(letters.map((l) => [l.id, l.letter.reason])).toEqual([['nowhere', 'unknown-route']]);
  });

  it('what one route refuses goes to that route’s own dead-letter sink, named with the route, while the other route stores it', async () => {
    const s = scene();
    const easy = table(s.dbPath);
    const pickyLetters = join(s.dir, 'picky-dead.ndjson');
    const pipeline = await s.pipeline({
      transform: fixtureUrl('route-transform'),
      routes: {
        picky: {
          sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ refuse: 'poison' }) },
          deadLetter: { type: 'ndjson', path: pickyLetters },
        },
        easy: { sink: { module: fixtureUrl('test-sink'), options: { path: s.dbPath, table: easy } } },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      log: { level: 'error' },
    });
    const all = ids('p', 100);
    await pipeline.pushMany(
      all.map((id, i) => ({
        id,
        payload: { to: ['picky', 'easy'], word: i % 25 === 7 ? 'poison' : 'fine' },
      })),
    );
    await pipeline.drained();
    const poisoned = all.filter((_, i) => i % 25 === 7);
    expect(readRows(s.dbPath, easy).map((r) => r.id)).toEqual(all);
    expect(s.rows().map((r) => r.id)).toEqual(all.filter((id) => !poisoned.includes(id)));
    const letters = readDeadLetters(pickyLetters);
    expect(letters.map((l) => l.id)).toEqual(poisoned);
    for (const { letter } of letters) {
      expect(letter.reason).toBe('sink-rejected');
      expect(letter.route).toBe('picky');
    }
    expect(s.deadLetters()).toEqual([]);
    const stats = pipeline.stats();
    // Written: the events every route they went to wrote; the refused ones are dead letters.
    expect(stats.written).toBe(all.length - poisoned.length);
    expect(stats.deadLettered).toBe(poisoned.length);
  });

  it('settles an event only once every route it went to wrote it: a gated route holds drained() while the other route writes at once', async () => {
    const s = scene();
    const fast = table(s.dbPath);
    const control = createControl(false);
    const words = new Int32Array(control);
    const fastControl = createControl();
    const pipeline = await s.pipeline({
      transform: fixtureUrl('route-transform'),
      routes: {
        slow: { sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) } },
        fast: {
          sink: {
            module: fixtureUrl('test-sink'),
            options: { path: s.dbPath, table: fast, control: fastControl },
          },
        },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      workers: { min: 1, max: 1 },
    });
    const all = ids('both', 200);
    await pipeline.pushMany(all.map((id) => ({ id, payload: { to: ['slow', 'fast'] } })));
    const drained = watch(pipeline.drained());
    await waitForWord(
      new Int32Array(fastControl),
      RECORDS_STORED,
      (n) => n === all.length,
      'the fast route to store every event',
    );
    await turns(20);
    expect(drained.settled).toBe(false);
    expect(pipeline.stats().queue.depthRecords).toBeGreaterThan(0);
    expect(s.rows()).toEqual([]);
    openGate(words);
    await pipeline.drained();
    expect(s.rows().map((r) => r.id)).toEqual(all);
    expect(readRows(s.dbPath, fast).map((r) => r.id)).toEqual(all);
  });

  it('a route that fails for a while is retried alone: the route that wrote is not written again (no duplicate rows), and each route counts its own writes', async () => {
    const s = scene();
    const steady = table(s.dbPath, false);
    const control = createControl();
    const words = new Int32Array(control);
    Atomics.store(words, FAILING, 1);
    const pipeline = await s.pipeline({
      transform: fixtureUrl('route-transform'),
      routes: {
        flaky: {
          sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
          retry: FAST_RETRY,
        },
        // unique: false — a second write of an id would be a second row.
        steady: {
          sink: {
            module: fixtureUrl('test-sink'),
            options: { path: s.dbPath, table: steady, unique: false },
          },
        },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      log: { level: 'error' },
      // Half a task timeout: a failing route hands the range back after 250 ms.
      workers: { min: 1, max: 1, taskTimeoutMs: 500 },
      batch: { maxRecords: 50 },
    });
    const all = ids('fan', 300);
    await pipeline.pushMany(all.map((id) => ({ id, payload: { to: ['flaky', 'steady'] } })));
    // Long enough for ranges to be handed back and dispatched again several times.
    await waitForWord(words, WRITES_FAILED, (n) => n >= 40, 'the flaky route to fail 40 writes');
    expect(pipeline.stats().deferred).toBeGreaterThan(0);
    Atomics.store(words, FAILING, 0);
    await pipeline.drained();
    const steadyIds = readRows(s.dbPath, steady).map((r) => r.id);
    expect(steadyIds.length).toBe(all.length);
    expect(distinctSorted(steadyIds)).toEqual(all);
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    expect(pipeline.stats().written).toBe(all.length);
    const text = await pipeline.metrics.metrics();
    expect(text).toMatch(/^sluice_events_written_total\{route="flaky",sink="custom"\} 300$/m);
    expect(text).toMatch(/^sluice_events_written_total\{route="steady",sink="custom"\} 300$/m);
    expect(text).toMatch(/^sluice_sink_up\{route="flaky",sink="custom",role="sink"\} 1$/m);
  });

  it('fails createPipeline() naming the route whose sink cannot be opened', async () => {
    const s = scene();
    await expect(
      s.pipeline({
        routes: {
          fine: { sink: { type: 'null' } },
          audit: { sink: { module: join(s.dir, 'no-such-sink.js') } },
        },
        deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      }),
    ).rejects.toThrow(/^route audit sink module .*no-such-sink\.js cannot be opened: /);
  });

  it('reports a failing route by name in health() and sluice_sink_up while the other stays up', async () => {
    const s = scene();
    const control = createControl();
    const words = new Int32Array(control);
    Atomics.store(words, FAILING, 1);
    const pipeline = await s.pipeline({
      transform: fixtureUrl('route-transform'),
      routes: {
        down: {
          sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
          retry: FAST_RETRY,
        },
        up: { sink: { type: 'null' } },
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      metrics: { sinkDownAfterMs: 0 },
      log: { level: 'error' },
    });
    await pipeline.pushMany([{ id: 'x', payload: { to: ['down', 'up'] } }]);
    await waitForWord(words, WRITES_FAILED, (n) => n >= 3, 'the route to fail');
    const health = pipeline.health();
    expect(health.ready).toBe(false);
    expect(health.reasons.some((r) => /^route down sink failing every write/.test(r))).toBe(true);
    expect(health.reasons.some((r) => /route up/.test(r))).toBe(false);
    const text = await pipeline.metrics.metrics();
    expect(text).toMatch(/^sluice_sink_up\{route="down",sink="custom",role="sink"\} 0$/m);
    expect(text).toMatch(/^sluice_sink_up\{route="up",sink="null",role="sink"\} 1$/m);
    Atomics.store(words, FAILING, 0);
    await pipeline.drained();
    expect(s.rows().map((r) => r.id)).toEqual(['x']);
  });
});
