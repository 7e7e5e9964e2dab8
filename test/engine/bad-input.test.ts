/**
 * Bad input never stops the pipeline: what producers get wrong is refused at push with a typed
 * error; what the worker finds wrong (unparseable lines, transform failures, validation) goes to
 * the dead letters with its reason while the rest of the batch is delivered.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import type { Pipeline } from '../../src/engine/pipeline.js';
import { createPipeline } from '../../src/engine/pipeline.js';
import { distinctSorted, fixtureUrl, ids, type Scene, useScenes } from '../helpers/engine.js';

describe('bad input', () => {
  const scene = useScenes('all');
  let s: Scene;
  let pipeline: Pipeline;

  beforeAll(async () => {
    s = scene();
    pipeline = await s.pipeline({
      queue: { capacityBytes: 64 * 1024 },
      workers: { min: 2, max: 2 },
      transform: fixtureUrl('behaviour-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
      deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    });
  });

  const stored = () => new Map(s.rows().map((r) => [r.id, r.payload]));
  const lettersOf = (id: string) => s.deadLetters().filter((l) => l.id === id);

  it('dead-letters a raw line that is not JSON as invalid-json, keeping the line, and delivers the valid lines beside it', async () => {
    const good = ids('raw-good', 3);
    const lines = [
      JSON.stringify({ id: good[0], v: 1 }),
      '{"id": "raw-broken", this is not json',
      JSON.stringify({ id: good[1], v: 2 }),
      JSON.stringify({ id: good[2], v: 3 }),
    ];
    expect(await pipeline.pushRawMany(lines)).toBe(4);
    await pipeline.drained();
    const rows = stored();
    for (const id of good) expect(rows.get(id)).toMatchObject({ id, transformed: true });
    const invalid = s.deadLetters().filter((l) => l.letter.reason === 'invalid-json');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.letter.event.raw).toBe(lines[1]);
    expect(invalid[0]!.letter.lastError).toMatch(/SyntaxError/);
    expect(rows.has('raw-broken')).toBe(false);
  });

  /**
   * How a promise-returning call failed: `sync: true` when it threw instead of returning a
   * rejected promise (a caller chaining `.catch` would never see the error).
   */
  async function failureOf(call: () => Promise<unknown>): Promise<{ sync: boolean; error: unknown }> {
    let promise: Promise<unknown>;
    try {
      promise = call();
    } catch (error) {
      return { sync: true, error };
    }
    try {
      await promise;
    } catch (error) {
      return { sync: false, error };
    }
    return { sync: false, error: undefined };
  }

  const tooLarge = { id: 'too-large', payload: 'x'.repeat(64 * 1024) };

  it.each<[string, () => Promise<unknown>]>([
    ['push', () => pipeline.push(tooLarge)],
    ['pushMany', () => pipeline.pushMany([{ id: 'small-first', payload: 1 }, tooLarge])],
    ['pushRaw', () => pipeline.pushRaw('y'.repeat(64 * 1024))],
    ['pushRawMany', () => pipeline.pushRawMany(['{"small":1}', 'y'.repeat(64 * 1024)])],
  ])(
    '%s returns a promise that rejects an event over maxRecordBytes with SLUICE_RECORD_TOO_LARGE, writing nothing of the call',
    async (_method, call) => {
      const before = pipeline.stats().queue.recordsWritten;
      expect(await failureOf(call)).toEqual({
        sync: false,
        error: expect.objectContaining({ code: 'SLUICE_RECORD_TOO_LARGE' }),
      });
      // Every event of a call is validated before any is written: not even the small one went in.
      expect(pipeline.stats().queue.recordsWritten).toBe(before);
    },
  );

  it.each([
    ['an empty id', { id: '', payload: 1 }, 'id'],
    ['a numeric id', { id: 42 as unknown as string, payload: 1 }, 'id'],
    ['an id over 255 bytes', { id: 'é'.repeat(128), payload: 1 }, 'id'],
    ['a numeric key', { key: 7 as unknown as string, payload: 1 }, 'key'],
    ['a payload that is not JSON', { payload: 10n }, 'payload'],
    ['a non-finite ts', { ts: Number.NaN, payload: 1 }, 'ts'],
  ])(
    'push returns a promise that rejects %s with SLUICE_INVALID_EVENT naming the field',
    async (_what, event, field) => {
      const before = pipeline.stats().queue.recordsWritten;
      expect.soft(await failureOf(() => pipeline.push(event))).toEqual({
        sync: false,
        error: expect.objectContaining({ code: 'SLUICE_INVALID_EVENT', field }),
      });
      expect.soft(await failureOf(() => pipeline.pushMany([{ payload: 'fine' }, event]))).toEqual({
        sync: false,
        error: expect.objectContaining({ code: 'SLUICE_INVALID_EVENT', field }),
      });
      expect(pipeline.stats().queue.recordsWritten).toBe(before);
    },
  );

  it('dead-letters transform output that is not an event as invalid-transform-output, and delivers the rest of the batch', async () => {
    const good = ids('out-good', 20);
    await pipeline.pushMany([
      ...good.slice(0, 10).map((id) => ({ id, payload: {} })),
      { id: 'out-number', payload: { output: 'number' } },
      { id: 'out-no-payload', payload: { output: 'no-payload' } },
      ...good.slice(10).map((id) => ({ id, payload: {} })),
    ]);
    await pipeline.drained();
    const rows = stored();
    expect(good.filter((id) => !rows.has(id))).toEqual([]);
    for (const id of ['out-number', 'out-no-payload']) {
      expect(rows.has(id)).toBe(false);
      expect(rows.has(`${id}-out`)).toBe(false);
      expect(lettersOf(id).map((l) => l.letter.reason)).toEqual(['invalid-transform-output']);
    }
    expect(lettersOf('out-number')[0]!.letter.lastError).toContain('42');
  });

  it('dead-letters the one event a transform throws on as transform-error, and delivers the rest of its batch', async () => {
    const good = ids('throw-good', 30);
    await pipeline.pushMany([
      ...good.slice(0, 15).map((id) => ({ id, payload: {} })),
      { id: 'throws', payload: { output: 'throw' } },
      ...good.slice(15).map((id) => ({ id, payload: {} })),
    ]);
    await pipeline.drained();
    const rows = stored();
    expect(good.filter((id) => !rows.has(id))).toEqual([]);
    expect(rows.has('throws')).toBe(false);
    const [letter] = lettersOf('throws');
    expect(letter?.letter).toMatchObject({
      reason: 'transform-error',
      lastError: expect.stringContaining('behaviour-transform refuses throws'),
      event: { id: 'throws', payload: { output: 'throw' } },
    });
  });

  it('dead-letters events that validate rejects, with false or with a reason, as validation-failed', async () => {
    const good = ids('valid-good', 10);
    await pipeline.pushMany([
      { id: 'invalid-false', payload: { valid: false } },
      ...good.map((id) => ({ id, payload: { valid: true } })),
      { id: 'invalid-reason', payload: { valid: 'amount must be positive' } },
    ]);
    await pipeline.drained();
    const rows = stored();
    expect(good.filter((id) => !rows.has(id))).toEqual([]);
    expect(lettersOf('invalid-false').map((l) => [l.letter.reason, l.letter.lastError])).toEqual([
      ['validation-failed', 'validate returned false'],
    ]);
    expect(lettersOf('invalid-reason').map((l) => [l.letter.reason, l.letter.lastError])).toEqual([
      ['validation-failed', 'amount must be positive'],
    ]);
    expect(rows.has('invalid-false') || rows.has('invalid-reason')).toBe(false);
  });

  it('keeps running after all of that: filters, flat-maps and delivers everything pushed afterwards', async () => {
    const after = ids('after', 500);
    await pipeline.pushMany(after.map((id) => ({ id, payload: {} })));
    await pipeline.push({ id: 'dropped', payload: { output: 'drop' } });
    await pipeline.push({ id: 'split', payload: { output: 'split' } });
    await pipeline.drained();
    const rows = stored();
    expect(after.filter((id) => !rows.has(id))).toEqual([]);
    expect(rows.has('dropped')).toBe(false);
    expect(lettersOf('dropped')).toEqual([]);
    expect(rows.get('split:0')).toMatchObject({ part: 0 });
    expect(rows.get('split:1')).toMatchObject({ part: 1 });
    const stats = pipeline.stats();
    expect(stats.filtered).toBe(1);
    expect(stats.deadLetteredByReason).toEqual({
      'invalid-json': 1,
      'invalid-transform-output': 2,
      'transform-error': 1,
      'validation-failed': 2,
    });
    // Every dead letter is one event, stored once.
    const letters = s.deadLetters();
    expect(distinctSorted(letters.map((l) => l.id))).toHaveLength(letters.length);
  });
});

describe('invalid options', () => {
  const sink = { type: 'null' } as const;
  it.each<[string, PipelineOptions, string]>([
    ['queue.capacityBytes', { queue: { capacityBytes: 1000 } }, 'got 1000'],
    ['queue.partitions', { queue: { partitions: 0 } }, 'got 0'],
    ['queue.policy', { queue: { policy: 'wait' as 'block' } }, 'got "wait"'],
    ['workers.max', { workers: { max: 0 } }, 'got 0'],
    ['workers.min', { workers: { min: 3, max: 2 } }, 'got 3'],
    ['workers.concurrentBatchesPerWorker', { workers: { concurrentBatchesPerWorker: 1.5 } }, 'got 1.5'],
    ['workers.taskTimeoutMs', { workers: { taskTimeoutMs: -1 } }, 'got -1'],
    ['workers.maxYoungGenerationSizeMb', { workers: { maxYoungGenerationSizeMb: 2.5 } }, 'got 2.5'],
    [
      'workers.concurrentArrayBufferSweeping',
      { workers: { concurrentArrayBufferSweeping: 'no' as unknown as boolean } },
      'got "no"',
    ],
    ['batch.maxRecords', { batch: { maxRecords: 0 } }, 'got 0'],
    ['batch.maxBytes', { batch: { maxBytes: 'lots' as unknown as number } }, 'got "lots"'],
    ['ordering', { ordering: 'strict' as 'key' }, 'got "strict"'],
    ['retry.maxAttempts', { retry: { maxAttempts: 0 } }, 'got 0'],
    ['transform', { transform: '' }, 'got ""'],
    ['sink.type', { sink: { type: 'kafka' } as never }, 'got "kafka"'],
    ['sink.path', { sink: { type: 'sqlite', path: '' } }, 'got ""'],
    ['deadLetter.module', { deadLetter: { module: '' } }, 'got ""'],
  ])(
    'createPipeline rejects a bad %s with SLUICE_INVALID_OPTION naming it, before starting any thread',
    async (field, options, got) => {
      const rejection = createPipeline({ sink, deadLetter: sink, ...options });
      await expect(rejection).rejects.toMatchObject({ code: 'SLUICE_INVALID_OPTION' });
      const message = ((await rejection.catch((e: unknown) => e)) as Error).message;
      expect(message.startsWith(`${field} must be`)).toBe(true);
      expect(message.endsWith(got)).toBe(true);
    },
  );

  it('createPipeline rejects an unknown queue option, naming it and the known ones, instead of ignoring it', async () => {
    const problem =
      'queue.bogus is not a known field (expected one of capacityBytes, partitions, policy, rejectTimeoutMs, maxRecordBytes, durability, path, fsync, fsyncIntervalMs, maxDiskBytes), got 1';
    await expect(
      createPipeline({ sink, deadLetter: sink, queue: { bogus: 1 } as PipelineOptions['queue'] }),
    ).rejects.toMatchObject({ code: 'SLUICE_INVALID_OPTION', message: problem, problems: [problem] });
  });

  it('createPipeline rejects with every problem of the options at once', async () => {
    const rejection = createPipeline({
      sink: { type: 'sqlite', path: 'x.db', synchronous: 'sometimes' as 'full' },
      deadLetter: { type: 'ndjson', path: 'dead.ndjson', fsync: 'always' as 'batch' },
      workers: { startupTimeoutMs: -1 },
      retry: { initialDelayMs: -1 },
    });
    await expect(rejection).rejects.toMatchObject({
      code: 'SLUICE_INVALID_OPTION',
      problems: [
        'workers.startupTimeoutMs must be an integer of milliseconds from 1 to 2147483647, got -1',
        'sink.synchronous must be "normal" or "full", got "sometimes"',
        'deadLetter.fsync must be "batch" or "never", got "always"',
        'retry.initialDelayMs must be a number of milliseconds from 0 to 2147483647, got -1',
      ],
    });
  });
});
