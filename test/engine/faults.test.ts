/**
 * Faults: a flaky sink, workers that die mid-batch, a poison event that kills every worker it
 * touches, and a close() in the middle of a burst. In every case each accepted event ends up in the
 * sink or in the dead letters, with a reason — never lost.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { SluiceError } from '../../src/errors.js';
import { createControl, WRITES_FAILED } from '../fixtures/engine/control.js';
import { distinctSorted, fixtureUrl, ids, readRows, useScenes } from '../helpers/engine.js';
import { watchdog } from '../queue/ring-harness.js';

const scene = useScenes();
const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 20, maxAttempts: 60 };

describe('faults', () => {
  it('stores every event exactly once when the sink fails 30% of writes transiently, and counts the retries', async () => {
    const s = scene();
    const control = createControl();
    const N = 5000;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 64 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 100 },
      retry: FAST_RETRY,
      // unique: false — every stored copy is a row, so a duplicate write would show.
      sink: {
        module: fixtureUrl('test-sink'),
        options: s.sinkOptions({ unique: false, failRate: 0.3, seed: 7, control }),
      },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('flaky', N);
    await pipeline.pushMany(all.map((id, i) => ({ id, key: `k${i % 13}`, payload: { i } })));
    await pipeline.drained();

    const rows = s.rows();
    expect(rows.length).toBe(N);
    expect(distinctSorted(rows.map((r) => r.id))).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    const stats = pipeline.stats();
    expect(Atomics.load(new Int32Array(control), WRITES_FAILED)).toBeGreaterThan(0);
    expect(stats.retries).toBeGreaterThan(0);
    expect(stats.retryableErrors).toBe(Atomics.load(new Int32Array(control), WRITES_FAILED));
    expect(stats.written).toBe(N);
    expect(stats.deadLettered).toBe(0);
  });

  it('delivers every event when the transform kills its worker on the first attempt of some batches, by process.exit and by an uncaught async throw', async () => {
    const s = scene();
    const N = 2000;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 100 },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('crash', N);
    const crashers = new Map<number, 'exit' | 'throw'>([
      [150, 'exit'],
      [620, 'throw'],
      [1100, 'exit'],
      [1580, 'throw'],
    ]);
    await pipeline.pushMany(
      all.map((id, i) => ({
        id,
        payload: crashers.has(i) ? { i, crash: crashers.get(i), markerDir: s.dir } : { i },
      })),
    );
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all);
    expect(s.deadLetters()).toEqual([]);
    const stats = pipeline.stats();
    expect(stats.workerFailures).toBeGreaterThanOrEqual(crashers.size);
    expect(stats.redispatched).toBeGreaterThan(0);
  });

  it('logs a worker that dies outside any batch (an uncaught throw after its batch was answered), and delivers every event', async () => {
    const s = scene();
    const logFile = join(s.dir, 'sluice.log');
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      log: { level: 'warn', destination: logFile },
    });
    const logged = () =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8')
            .trim()
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as { msg: string; error?: string })
        : [];
    const outside = () => logged().filter((l) => l.msg === 'a worker thread failed outside any batch');
    await pipeline.push({ id: 'later', payload: { crash: 'throw-later', markerDir: s.dir } });
    await pipeline.drained();
    // The throw comes 50 ms after the batch's answer, with nothing else in flight.
    for (let waited = 0; outside().length === 0 && waited < 10_000; waited += 20) await sleep(20);
    expect(outside()).toHaveLength(1);
    expect(outside()[0]!.error).toContain('crash-transform: uncaught throw after later');
    const rest = ids('after', 200);
    await pipeline.pushMany(rest.map((id, i) => ({ id, payload: { i } })));
    await pipeline.drained();
    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(distinctSorted(['later', ...rest]));
    expect(s.deadLetters()).toEqual([]);
    expect(pipeline.stats().written).toBe(201);
  });

  it('dead-letters a poison event that kills every worker as worker-crash, alone, and delivers every other event', async () => {
    const s = scene();
    const N = 1000;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 64 },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('poison', N);
    const poison = all[437]!;
    await pipeline.pushMany(
      all.map((id, i) => ({ id, payload: id === poison ? { i, poison: true } : { i } })),
    );
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== poison));
    const letters = s.deadLetters();
    expect(distinctSorted(letters.map((l) => l.id))).toEqual([poison]);
    expect(letters[0]!.letter).toMatchObject({
      reason: 'worker-crash',
      event: { id: poison, raw: JSON.stringify({ i: 437, poison: true }) },
      lastError: expect.stringContaining('exited'),
    });
    expect(letters[0]!.letter.attempts).toBeGreaterThanOrEqual(2);
    const stats = pipeline.stats();
    expect(stats.deadLetteredByReason).toEqual({ 'worker-crash': 1 });
    expect(stats.splits).toBeGreaterThan(0);
  });

  it('files a poison NDJSON line under its own id, key and source, not the fallbacks the ring holds for it', async () => {
    const s = scene();
    const N = 300;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 64 },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('line', N);
    const poison = all[77]!;
    const lines = all.map((id, i) =>
      JSON.stringify(
        id === poison ? { id, key: 'k-own', source: 'src-own', ts: 5, poison: true } : { id, i },
      ),
    );
    // The fallbacks a source gives lines without their own: what the ring holds beside each line.
    await pipeline.pushRawRecords(
      lines.map((data, i) => ({ data, id: `fallback-${i}`, source: `file:${i}` })),
    );
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== poison));
    const letters = s.deadLetters();
    expect(letters.map((l) => l.id)).toEqual([poison]);
    expect(letters[0]!.letter).toMatchObject({
      reason: 'worker-crash',
      event: { id: poison, key: 'k-own', source: 'src-own', ts: 5, raw: lines[77] },
    });
  });

  /**
   * One worker; the poison event kills it, and the replacement's transform fails to start at first
   * (`starting`: the module's code deciding, by the `<marker>-<n>` files it leaves in the scene's
   * directory, whether this start fails). Every other event must be written, the poison event alone
   * dead-lettered, and the failed starts waited out as deferrals. Returns how many starts there were.
   */
  async function replacementFailsToStart(marker: string, starting: string): Promise<number> {
    const s = scene();
    const N = 400;
    const module = join(s.dir, `${marker}.mjs`);
    writeFileSync(
      module,
      `import { readdirSync, writeFileSync } from 'node:fs';
      const dir = ${JSON.stringify(s.dir)};
      const startNumber = () => {
        const n = readdirSync(dir).filter((name) => name.startsWith('${marker}-')).length;
        writeFileSync(dir + '/${marker}-' + n, '');
        return n;
      };
      ${starting}
      export default (event) => {
        if (event.payload.poison) process.exit(1);
        return event;
      };\n`,
    );
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 1, max: 1 },
      batch: { maxRecords: 50 },
      retry: FAST_RETRY,
      transform: module,
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids(marker, N);
    const poison = all[10]!;
    await pipeline.pushMany(
      all.map((id, i) => ({ id, payload: id === poison ? { i, poison: true } : { i } })),
    );
    await watchdog(pipeline.drained(), 30_000, 'drained');

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== poison));
    expect(s.deadLetters().map((l) => [l.id, l.letter.reason])).toEqual([[poison, 'worker-crash']]);
    const stats = pipeline.stats();
    expect(stats.deadLetteredByReason).toEqual({ 'worker-crash': 1 });
    expect(stats.written).toBe(N - 1);
    // The failed starts were waited out (a replacement thread starts the transform as it starts,
    // so the first may fail before any batch awaits it), not counted against the records.
    expect(stats.deferred).toBeGreaterThanOrEqual(1);
    return readdirSync(s.dir).filter((name) => name.startsWith(`${marker}-`)).length;
  }

  it('defers the batches of a replacement worker whose setup() fails for a while, starting the transform again, and dead-letters only the poison event', async () => {
    // setup() passes on the first worker, fails twice (the replacement's first starts), then passes.
    const starts = await replacementFailsToStart(
      'setup',
      `export function setup() {
        const n = startNumber();
        if (n === 1 || n === 2) throw new Error('enrichment service unreachable (start ' + n + ')');
      }`,
    );
    expect(starts).toBeGreaterThanOrEqual(4);
  });

  it('defers the batches of a replacement worker whose transform module fails while it is evaluated, imports it anew, and dead-letters only the poison event', async () => {
    // The module's own body fails on its second and third evaluations (the replacement thread's
    // first imports): Node keeps a module that threw, so only a new import can pass.
    const evaluations = await replacementFailsToStart(
      'evaluation',
      `const n = startNumber();
      if (n === 1 || n === 2) throw new Error('cannot reach the enrichment service (evaluation ' + n + ')');`,
    );
    expect(evaluations).toBeGreaterThanOrEqual(4);
  });

  it('dead-letters an event whose key the sink and the dead-letter sink both refuse (a NUL) with its key escaped, and delivers every other event', async () => {
    const s = scene();
    const N = 400;
    const letters = join(s.dir, 'letters.db');
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 64 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 50 },
      retry: FAST_RETRY,
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ refuseNul: true }) },
      deadLetter: {
        module: fixtureUrl('test-sink'),
        options: { path: letters, table: 'letters', refuseNul: true },
      },
    });
    const all = ids('nul', N);
    const hostile = all[123]!;
    await pipeline.pushMany(
      all.map((id, i) => ({ id, key: id === hostile ? 'k\0\\x\r' : `k${i % 7}`, payload: { i } })),
    );
    await watchdog(pipeline.drained(), 20_000, 'drained');

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== hostile));
    const stored = readRows(letters, 'letters');
    expect(stored.map((r) => [r.id, r.key])).toEqual([[hostile, 'k\\u0000\\\\x\\u000d']]);
    expect(stored[0]!.payload).toMatchObject({
      reason: 'sink-rejected',
      event: { id: hostile, key: 'k\\u0000\\\\x\\u000d', fieldsEscaped: expect.stringContaining('refused') },
      // The sink's refusal quoted the key, NUL and all: escaped too, or the letter is refused again.
      lastError: expect.stringContaining('(key k\\u0000\\\\x\\u000d)'),
    });
    expect(pipeline.stats().deadLetteredByReason).toEqual({ 'sink-rejected': 1 });
  });

  it('aborts a batch whose transform hangs after workers.taskTimeoutMs, dead-letters the hanging event alone as worker-crash, and delivers every other event', async () => {
    const s = scene();
    const N = 300;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 2, max: 2, taskTimeoutMs: 300 },
      batch: { maxRecords: 32 },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('hang', N);
    const stuck = all[123]!;
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: id === stuck ? { i, hang: true } : { i } })));
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== stuck));
    const letters = s.deadLetters();
    expect(letters.map((l) => l.id)).toEqual([stuck]);
    expect(letters[0]!.letter).toMatchObject({
      reason: 'worker-crash',
      lastError: expect.stringContaining('timed out'),
    });
    expect(pipeline.stats().workerFailures).toBeGreaterThanOrEqual(2);
  });

  it('isolates a hanging event among 64 in at most 1 + log2(64) failed tasks', async () => {
    const s = scene();
    const N = 64;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 256 * 1024 },
      workers: { min: 1, max: 1, taskTimeoutMs: 300, concurrentBatchesPerWorker: 1 },
      batch: { maxRecords: N },
      retry: FAST_RETRY,
      transform: fixtureUrl('crash-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('bisect', N);
    const stuck = all[45]!;
    await pipeline.pushMany(all.map((id, i) => ({ id, payload: id === stuck ? { i, hang: true } : { i } })));
    await pipeline.drained();

    expect(distinctSorted(s.rows().map((r) => r.id))).toEqual(all.filter((id) => id !== stuck));
    expect(s.deadLetters().map((l) => [l.id, l.letter.reason])).toEqual([[stuck, 'worker-crash']]);
    // One failure with the whole batch, then one per halving: each costs a task timeout.
    expect(pipeline.stats().workerFailures).toBeLessThanOrEqual(1 + Math.log2(N));
  });

  it('keeps every event accepted before close() — in the sink or the dead letters — and rejects every later push with SLUICE_CLOSED', async () => {
    const s = scene();
    const N = 2000;
    const pipeline = await s.pipeline({
      queue: { capacityBytes: 16 * 1024 },
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 25 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ delayMs: 2 }) },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
    const all = ids('burst', N);
    let resolved = 0;
    let closing: Promise<unknown> | undefined;
    const pushes = all.map((id, i) =>
      pipeline.push({ id, payload: { i, pad: 'z'.repeat(60) } }).then((ok) => {
        // Close in the middle of the burst, from inside it.
        if (++resolved === 300) closing = pipeline.close();
        return ok;
      }),
    );
    const outcomes = await Promise.allSettled(pushes);
    expect(closing, 'close() was never called: the burst was too small').toBeDefined();
    await closing;

    const accepted = all.filter((_, i) => outcomes[i]!.status === 'fulfilled');
    const rejections = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(outcomes.every((o) => o.status === 'rejected' || o.value === true)).toBe(true);
    expect(accepted.length).toBeGreaterThanOrEqual(300);
    expect(rejections.length).toBeGreaterThan(0);
    expect(new Set(rejections.map((r) => (r.reason as SluiceError).code))).toEqual(
      new Set(['SLUICE_CLOSED']),
    );

    const kept = new Set([...s.rows().map((r) => r.id), ...s.deadLetters().map((l) => l.id)]);
    expect(accepted.filter((id) => !kept.has(id))).toEqual([]);
    // Nothing that was refused slipped in.
    const refused = new Set(all.filter((_, i) => outcomes[i]!.status === 'rejected'));
    expect([...kept].filter((id) => refused.has(id))).toEqual([]);

    const closed = { code: 'SLUICE_CLOSED' };
    await expect(pipeline.push({ payload: 1 })).rejects.toMatchObject(closed);
    await expect(pipeline.pushMany([{ payload: 1 }])).rejects.toMatchObject(closed);
    await expect(pipeline.pushRaw('{"a":1}')).rejects.toMatchObject(closed);
    await expect(pipeline.pushRawMany(['{"a":1}'])).rejects.toMatchObject(closed);
  });
});
