/**
 * Hostile input: one event of a shape no sink can take — nested 20 000 levels deep, an id holding
 * a lone surrogate, a payload that cannot be serialised — must end as one dead letter with a
 * reason, while the events beside it are written and the pipeline keeps flowing.
 */
import { describe, expect, it, vi } from 'vitest';
import { createControl, FAILING, WRITES_FAILED } from '../fixtures/engine/control.js';
import { distinctSorted, fixtureUrl, ids, useScenes, waitForWord } from '../helpers/engine.js';

const scene = useScenes();
const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 20 };

/** `[[[…]]]` nested `depth` levels, as one NDJSON line with an id. */
function nestingBomb(id: string, depth: number): string {
  return `{"id":${JSON.stringify(id)},"bomb":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

describe('hostile input', () => {
  it('dead-letters a line nested 20 000 arrays deep as too-deep, with its text, and writes the lines around it', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const good = ids('deep-good', 20);
    const bomb = nestingBomb('deep-bomb', 20_000);
    const lines = good.map((id, i) => JSON.stringify({ id, i }));
    lines.splice(10, 0, bomb);
    expect(await pipeline.pushRawMany(lines)).toBe(21);
    await pipeline.drained();
    // The next event after the bad one is not held behind it.
    await pipeline.pushRaw(JSON.stringify({ id: 'deep-after', i: 99 }));
    await pipeline.drained();

    // Its id is the one assigned at push: the line's own is not read out of a line refused unread.
    const letters = s.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]!.letter).toMatchObject({ reason: 'too-deep', event: { raw: bomb } });
    const stats = pipeline.stats();
    expect(stats.written).toBe(21);
    expect(stats.deadLetteredByReason).toEqual({ 'too-deep': 1 });
  });

  it('takes maxNestingDepth as the limit, and refuses a limit that is no positive integer', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      maxNestingDepth: 3,
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushRawMany(['{"id":"three","a":[[1]]}', '{"id":"four","a":[[[1]]]}']);
    await pipeline.push({ id: 'pushed-four', payload: { a: [[[1]]] } });
    await pipeline.drained();
    expect(pipeline.stats()).toMatchObject({ written: 1, deadLetteredByReason: { 'too-deep': 2 } });
    await expect(s.pipeline({ maxNestingDepth: 0 })).rejects.toMatchObject({
      code: 'SLUICE_INVALID_OPTION',
      message: expect.stringContaining('maxNestingDepth must be an integer from 1 to 100000, got 0'),
    });
  });

  it('dead-letters too-deep events on every path: through a transform, from push(), into a custom sink', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      transform: fixtureUrl('behaviour-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    let deep: unknown = 0;
    for (let i = 0; i < 3000; i++) deep = [deep];
    await pipeline.push({ id: 'pushed-deep', payload: { deep } });
    await pipeline.pushRaw(nestingBomb('raw-deep', 50_000));
    await pipeline.push({ id: 'pushed-fine', payload: { n: 1 } });
    await pipeline.drained();

    expect(s.rows().map((r) => r.id)).toEqual(['pushed-fine']);
    const reasons = new Map(s.deadLetters().map((l) => [l.id, l.letter.reason]));
    expect(reasons.get('pushed-deep')).toBe('too-deep');
    expect([...reasons.values()].filter((r) => r === 'too-deep')).toHaveLength(2);
  });

  it('dead-letters a transform output that cannot be serialised as unserializable and writes its batch-mates', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      transform: fixtureUrl('hostile-transform'),
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('ser', 30);
    await pipeline.pushMany(
      all.map((id, i) => ({
        id,
        payload: i === 7 ? { emit: 'bigint' } : i === 8 ? { emit: 'cycle' } : { i },
      })),
    );
    await pipeline.drained();

    const letters = s.deadLetters();
    expect(distinctSorted(letters.map((l) => l.id))).toEqual([all[7], all[8]]);
    for (const letter of letters) {
      expect(letter.letter.reason).toBe('unserializable');
      expect(letter.letter.event.raw).toBeDefined();
    }
    expect(pipeline.stats().written).toBe(28);
  });

  it('records a dead letter whose payload cannot be written as JSON, leaving the payload out with the reason', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      transform: fixtureUrl('hostile-transform'),
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    // The transform puts a BigInt into the event's payload and then throws.
    await pipeline.push({ id: 'spoiled', payload: { emit: 'spoil-and-throw' } });
    await pipeline.push({ id: 'fine', payload: { i: 1 } });
    await pipeline.drained();

    const letters = s.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]!.letter).toMatchObject({
      reason: 'transform-error',
      event: { id: 'spoiled', payloadError: expect.stringMatching(/BigInt/) },
    });
    expect(letters[0]!.letter.event.payload).toBeUndefined();
    expect(pipeline.stats().written).toBe(1);
  });

  it('writes a letter the dead-letter sink refuses without its payload, and holds one it refuses even bare while the rest goes through', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      transform: fixtureUrl('behaviour-transform'),
      sink: { type: 'sqlite', path: s.dbPath },
      // The dead-letter sink refuses any letter whose JSON holds "forbidden".
      deadLetter: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ refuse: 'forbidden' }) },
      retry: FAST_RETRY,
    });
    const all = ids('dlq-refuse', 40);
    // Four events fail validation; their letters hold "forbidden" in the payload. One of them
    // also holds it in its reason, which even a letter without its payload keeps.
    await pipeline.pushMany(
      all.map((id, i) => ({
        id,
        payload:
          i % 10 === 3 ? { valid: i === 13 ? 'forbidden value' : 'plain reason', word: 'forbidden' } : { i },
      })),
    );
    const letters = () =>
      new Map(s.rows().map((r) => [r.id, r.payload as { event: Record<string, unknown> }]));
    await vi.waitFor(
      () => {
        expect(pipeline.stats().written).toBe(36);
        expect(letters().size).toBe(3);
      },
      { timeout: 20_000, interval: 20 },
    );
    for (const id of [all[3], all[23], all[33]]) {
      expect(letters().get(id!)!.event).not.toHaveProperty('payload');
      expect(letters().get(id!)!.event.payloadError).toMatch(/refused/);
    }
    // The one letter nothing will take is not dropped: its range stays in the ring, reported.
    expect(letters().has(all[13]!)).toBe(false);
    expect(pipeline.health()).toMatchObject({ ready: false });
    await expect(pipeline.close({ timeoutMs: 300 })).rejects.toMatchObject({
      code: 'SLUICE_SHUTDOWN_TIMEOUT',
      pendingEvents: 1,
    });
  });

  it('holds events while the dead-letter sink is down — nothing acknowledged, nothing dropped — and writes them once it is back', async () => {
    const s = scene();
    const control = createControl();
    const words = new Int32Array(control);
    Atomics.store(words, FAILING, 1);
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1, taskTimeoutMs: 400 },
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      retry: FAST_RETRY,
      // Not ready from the dead-letter sink's first failure on: a deferred batch alone says so only
      // between its dispatches.
      metrics: { sinkDownAfterMs: 0 },
    });
    const lines = ['{"id":"ok-1"}', '{"id":"bad-1", nope', '{"id":"ok-2"}'];
    await pipeline.pushRawMany(lines);
    let drained = false;
    const draining = pipeline.drained().then(() => {
      drained = true;
    });
    // Fails well past a task's yield window: the range goes back to the ring, again and again.
    await waitForWord(words, WRITES_FAILED, (n) => n >= 30, 'dead-letter writes failing');
    expect(drained).toBe(false);
    expect(pipeline.health()).toMatchObject({
      ready: false,
      reasons: expect.arrayContaining([
        expect.stringMatching(/^dead-letter sink failing every write for \d+ s$/),
      ]),
    });
    Atomics.store(words, FAILING, 0);
    await draining;
    expect(pipeline.health()).toEqual({ alive: true, ready: true, reasons: [] });

    const stored = s.rows();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.payload).toMatchObject({ reason: 'invalid-json', event: { raw: lines[1] } });
    expect(pipeline.stats().written).toBe(2);
    expect(pipeline.stats().workerFailures).toBe(0);
    expect(pipeline.stats().deadLetteredByReason).toEqual({ 'invalid-json': 1 });
  });

  it('refuses ids, keys and sources holding a lone surrogate at push(), naming the field', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    for (const id of ['sur-\ud800', 'sur-\udc00', 'sur-\udbff']) {
      await expect(pipeline.push({ id, payload: 1 })).rejects.toMatchObject({
        code: 'SLUICE_INVALID_EVENT',
        message: expect.stringMatching(/^event\.id must be well-formed UTF-16/),
      });
    }
    await expect(pipeline.push({ id: 'k', key: 'a\udfffb', payload: 1 })).rejects.toMatchObject({
      message: expect.stringMatching(/^event\.key /),
    });
    await expect(pipeline.pushRaw('{"a":1}', '\ud800')).rejects.toMatchObject({
      message: expect.stringMatching(/^event\.key /),
    });
    await expect(pipeline.push({ id: 'src', source: '\ud800x', payload: 1 })).rejects.toMatchObject({
      message: expect.stringMatching(/^event\.source /),
    });
    // A well-formed pair is fine.
    await pipeline.push({ id: 'pair-\ud83d\ude00', payload: 1 });
    await pipeline.drained();
    expect(pipeline.stats().written).toBe(1);
  });

  it('dead-letters raw lines whose id is not a valid id as invalid-event, and never stores two ids as one', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const lines = [
      '{"id":"sur-\\ud800","ts":1700000000000}',
      '{"id":"sur-\\udc00"}',
      '{"id":"sur-\\udbff"}',
      `{"id":"${'€'.repeat(86)}"}`, // 258 UTF-8 bytes, 86 UTF-16 units
      `{"id":"${'€'.repeat(85)}"}`, // 255 bytes: the limit
      '{"id":""}',
      '{"id":1.5}',
      '{"id":12345678901234567890}',
      '{"id":{"nested":true}}',
      '{"id":42,"v":1}',
      '{"id":null,"v":2}',
      '{"key":"\\ud800","v":3}',
    ];
    await pipeline.pushRawMany(lines);
    await pipeline.drained();

    const letters = s.deadLetters();
    const invalid = letters.filter((l) => l.letter.reason === 'invalid-event');
    expect(invalid.map((l) => l.letter.event.raw).sort()).toEqual(
      [lines[0], lines[1], lines[2], lines[3], lines[5], lines[6], lines[8], lines[11]].sort(),
    );
    expect(letters).toHaveLength(invalid.length);
    const surrogate = invalid.find((l) => l.letter.event.raw === lines[0])!;
    expect(surrogate.letter.lastError).toMatch(/event\.id must be well-formed UTF-16/);
    // The line's own time is kept in its dead letter.
    expect(surrogate.letter.event.ts).toBe(1700000000000);
    expect(invalid.find((l) => l.letter.event.raw === lines[6])!.letter.lastError).toMatch(/as a string/);
    const stats = pipeline.stats();
    // The 255-byte id, 42, the id taken from a null, and 12345678901234567890 whole.
    expect(stats.written).toBe(4);
    expect(stats.deadLettered).toBe(8);
  });

  it('stores a numeric line id as its decimal digits, exactly as written', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushRawMany([
      '{"id":42,"v":1}',
      '{"id":-7,"v":2}',
      '{"id":"42","v":3}',
      '{"id":12345678901234567890,"v":4}',
      '{"id":12345678901234567891,"v":5}',
    ]);
    await pipeline.drained();
    // "42" twice: the number and the string are the same id, stored once. Beyond 2^53 the digits
    // are the id, not the double JSON.parse would round them to.
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual([
      '-7',
      '12345678901234567890',
      '12345678901234567891',
      '42',
    ]);
    expect(s.rows()).toHaveLength(4);
  });

  it('dead-letters a transform output whose id, key or source is not well-formed as invalid-transform-output', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      transform: fixtureUrl('hostile-transform'),
      sink: { type: 'sqlite', path: s.dbPath },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushMany([
      { id: 'out-1', payload: { emit: 'surrogate-id' } },
      { id: 'out-2', payload: { emit: 'surrogate-key' } },
      { id: 'out-3', payload: { emit: 'long-id' } },
      { id: 'out-4', payload: { i: 4 } },
    ]);
    await pipeline.drained();
    const reasons = s.deadLetters().map((l) => [l.id, l.letter.reason]);
    expect(reasons.sort()).toEqual([
      ['out-1', 'invalid-transform-output'],
      ['out-2', 'invalid-transform-output'],
      ['out-3', 'invalid-transform-output'],
    ]);
    expect(pipeline.stats().written).toBe(1);
  });

  it('writes pushed lines to the sink byte for byte when no transform changes them: big integers, long decimals, tiny exponents', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { type: 'ndjson', path: `${s.dir}/out.ndjson`, fsync: 'never' },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const lines = [
      '{"id":"n1","big":12345678901234567890}',
      '{"id":"n2","price":19.990000000000000001}',
      '{"id":"n3","tiny":1e-400, "spaced" :  [ 1 ,2 ]}',
    ];
    await pipeline.pushRawMany(lines);
    await pipeline.drained();
    const { readFileSync } = await import('node:fs');
    const written = readFileSync(`${s.dir}/out.ndjson`, 'utf8').trim().split('\n');
    const payloads = written.map((line) => line.slice(line.indexOf('"payload":') + '"payload":'.length, -1));
    expect(payloads.sort()).toEqual([...lines].sort());
  });
});

describe('sink outages', () => {
  it('holds a batch in the ring through an outage longer than a task may wait, with no dead letters and no task timeouts', async () => {
    const s = scene();
    const control = createControl();
    const words = new Int32Array(control);
    Atomics.store(words, FAILING, 1);
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 64 * 1024 },
      workers: { min: 2, max: 2, taskTimeoutMs: 300 },
      batch: { maxRecords: 50 },
      // The defaults but for the delays: no attempt limit, a time budget far beyond this outage.
      retry: { initialDelayMs: 2, maxDelayMs: 40 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control, unique: false }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('outage', 500);
    const pushed = pipeline.pushMany(all.map((id, i) => ({ id, payload: { i, pad: 'p'.repeat(100) } })));
    // Many times the attempts a count-limited retry would make, across many task windows.
    await waitForWord(words, WRITES_FAILED, (n) => n >= 200, 'writes failing through the outage');
    expect(pipeline.stats().deferred).toBeGreaterThan(0);
    Atomics.store(words, FAILING, 0);
    await pushed;
    await pipeline.drained();

    const rows = s.rows();
    expect(rows).toHaveLength(all.length);
    expect(distinctSorted(rows.map((r) => r.id))).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    expect(pipeline.stats().workerFailures).toBe(0);
  });

  it('dead-letters what still fails once retry.maxElapsedMs has passed, as retries-exhausted', async () => {
    const s = scene();
    const control = createControl();
    const words = new Int32Array(control);
    Atomics.store(words, FAILING, 1);
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1, taskTimeoutMs: 200 },
      retry: { initialDelayMs: 2, maxDelayMs: 20, maxElapsedMs: 300 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    await pipeline.pushMany(ids('budget', 10).map((id) => ({ id, payload: 1 })));
    await pipeline.drained();
    const letters = s.deadLetters();
    expect(distinctSorted(letters.map((l) => l.id))).toEqual(ids('budget', 10));
    expect(new Set(letters.map((l) => l.letter.reason))).toEqual(new Set(['retries-exhausted']));
    // The budget is counted from the first failure across the dispatches of the batch.
    for (const l of letters) expect(l.letter.attempts).toBeGreaterThan(3);
  });
});
