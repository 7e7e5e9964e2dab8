import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  arrayBufferSweeping,
  holdInlineArrayBufferSweeping,
  inlineSweepingHolders,
  setOnCommandLine,
} from '../../src/engine/array-buffer-sweeping.js';
import { createPipeline } from '../../src/engine/pipeline.js';
import { fixtureUrl } from '../helpers/engine.js';

const OFF = '--no-concurrent-array-buffer-sweeping';
const ON = '--concurrent-array-buffer-sweeping';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function ndjsonSinks() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sweeping-'));
  dirs.push(dir);
  return {
    sink: { type: 'ndjson', path: join(dir, 'out.ndjson'), fsync: 'never' },
    deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
  } as const;
}

describe('setOnCommandLine', () => {
  it.each([
    [[OFF], true],
    [[ON], true],
    [['--no_concurrent_array_buffer_sweeping'], true],
    [['--noconcurrent-array-buffer-sweeping'], true],
    [['--concurrent-array-buffer-sweeping=false'], true],
    [['--max-old-space-size=100', OFF], true],
    // Flags that imply it off (V8: single-threaded-gc negates it; the other two imply that).
    [['--single-threaded-gc'], true],
    [['--single_threaded'], true],
    [['--predictable'], true],
    [['--single-threaded-gc-x'], false],
    [[], false],
    [['--concurrent-marking'], false],
    [['--no-concurrent-array-buffer-sweeping-x'], false],
    [['concurrent-array-buffer-sweeping'], false],
  ])('%j → %s', (execArgv, expected) => {
    expect(setOnCommandLine(execArgv)).toBe(expected);
  });
});

describe('holdInlineArrayBufferSweeping', () => {
  it('switches the flag off at the first hold and on at the last release, once each', () => {
    const calls: string[] = [];
    const set = (flags: string) => calls.push(flags);
    const first = holdInlineArrayBufferSweeping(set, []);
    const second = holdInlineArrayBufferSweeping(set, []);
    expect(calls).toEqual([OFF]);
    expect(inlineSweepingHolders()).toBe(2);
    first();
    first();
    expect(calls).toEqual([OFF]);
    expect(inlineSweepingHolders()).toBe(1);
    second();
    expect(calls).toEqual([OFF, ON]);
    expect(inlineSweepingHolders()).toBe(0);
    second();
    expect(calls).toEqual([OFF, ON]);
    const third = holdInlineArrayBufferSweeping(set, []);
    third();
    expect(calls).toEqual([OFF, ON, OFF, ON]);
  });

  it('is reported as inline while held, concurrent otherwise, node-flag when node was given it', () => {
    expect(arrayBufferSweeping([])).toBe('concurrent');
    const release = holdInlineArrayBufferSweeping(() => {}, []);
    expect(arrayBufferSweeping([])).toBe('inline');
    expect(arrayBufferSweeping([OFF])).toBe('node-flag');
    release();
    expect(arrayBufferSweeping([])).toBe('concurrent');
    expect(arrayBufferSweeping([ON])).toBe('node-flag');
  });

  it('leaves a flag given on the command line as it is', () => {
    const calls: string[] = [];
    const release = holdInlineArrayBufferSweeping((flags) => calls.push(flags), [ON]);
    release();
    expect(calls).toEqual([]);
    expect(inlineSweepingHolders()).toBe(0);
  });

  it('counts holds per thread, across copies of the module', () => {
    const module = new URL('../../dist/src/engine/array-buffer-sweeping.js', import.meta.url).href;
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const a = await import(${JSON.stringify(`${module}?copy=a`)});
         const b = await import(${JSON.stringify(`${module}?copy=b`)});
         if (a.holdInlineArrayBufferSweeping === b.holdInlineArrayBufferSweeping) throw new Error('one copy');
         const calls = [];
         const set = (flags) => calls.push(flags);
         const releaseA = a.holdInlineArrayBufferSweeping(set, []);
         const releaseB = b.holdInlineArrayBufferSweeping(set, []);
         const held = b.arrayBufferSweeping([]);
         releaseA();
         const afterA = [...calls];
         releaseB();
         console.log(JSON.stringify({ held, afterA, calls }));`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ held: 'inline', afterA: [OFF], calls: [OFF, ON] });
  });

  it('names a flag this V8 knows (an unknown one is reported on stderr)', () => {
    const module = new URL('../../dist/src/engine/array-buffer-sweeping.js', import.meta.url).href;
    const run = (extra?: string) =>
      spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import v8 from 'node:v8';
           const { holdInlineArrayBufferSweeping } = await import(${JSON.stringify(module)});
           holdInlineArrayBufferSweeping()();
           ${extra === undefined ? '' : `v8.setFlagsFromString(${JSON.stringify(extra)});`}`,
        ],
        { encoding: 'utf8' },
      );
    // The same child setting a misspelt flag too: what the check below would see if the module's were.
    const misspelt = run('--no-concurrent-array-buffer-sweepin');
    expect(misspelt.status).toBe(0);
    expect(misspelt.stderr).toMatch(/unrecognized flag/);
    const ours = run();
    expect(ours.status).toBe(0);
    expect(ours.stderr).toBe('');
  });
});

describe('workers.concurrentArrayBufferSweeping', () => {
  it('is switched off while a pipeline runs by default, and back on when it closes', async () => {
    const set = vi.spyOn(v8, 'setFlagsFromString');
    const pipeline = await createPipeline({ workers: { min: 1, max: 1 }, ...ndjsonSinks() });
    expect(set.mock.calls).toEqual([[OFF]]);
    expect(inlineSweepingHolders()).toBe(1);
    await pipeline.push({ id: 'a', payload: { n: 1 } });
    await pipeline.drained();
    const summary = await pipeline.close();
    expect(summary.written).toBe(1);
    expect(set.mock.calls).toEqual([[OFF], [ON]]);
    expect(inlineSweepingHolders()).toBe(0);
  });

  it("'pipeline started' says how buffers are swept", async () => {
    const sinks = ndjsonSinks();
    const logFile = join(dirs.at(-1)!, 'sluice.log');
    const started = async (concurrentArrayBufferSweeping: boolean) => {
      const pipeline = await createPipeline({
        workers: { min: 1, max: 1, concurrentArrayBufferSweeping },
        log: { level: 'info', destination: logFile },
        ...sinks,
      });
      await pipeline.close();
      const lines = readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      return lines.filter((l) => l.msg === 'pipeline started').at(-1)?.arrayBufferSweeping;
    };
    expect(await started(false)).toBe('inline');
    expect(await started(true)).toBe('concurrent');
  });

  it('under node --single-threaded-gc: left alone, and logged as node-flag', () => {
    const pipelineModule = new URL('../../dist/src/engine/pipeline.js', import.meta.url).href;
    const { sink, deadLetter } = ndjsonSinks();
    const log = join(dirs.at(-1)!, 'sluice.log');
    const child = spawnSync(
      process.execPath,
      [
        '--single-threaded-gc',
        '--input-type=module',
        '-e',
        `import v8 from 'node:v8';
         const calls = [];
         v8.setFlagsFromString = (flags) => calls.push(flags);
         const { createPipeline } = await import(${JSON.stringify(pipelineModule)});
         const pipeline = await createPipeline(${JSON.stringify({
           workers: { min: 1, max: 1 },
           sink,
           deadLetter,
           log: { level: 'info', destination: log },
         })});
         await pipeline.close();
         console.log(JSON.stringify(calls));`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual([]);
    const started = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'pipeline started');
    expect(started?.arrayBufferSweeping).toBe('node-flag');
  });

  it('two pipelines: back on only when the second closes', async () => {
    const set = vi.spyOn(v8, 'setFlagsFromString');
    const a = await createPipeline({ workers: { min: 1, max: 1 }, ...ndjsonSinks() });
    const b = await createPipeline({ workers: { min: 1, max: 1 }, ...ndjsonSinks() });
    await a.close();
    expect(set.mock.calls).toEqual([[OFF]]);
    await b.close();
    expect(set.mock.calls).toEqual([[OFF], [ON]]);
  });

  it('true leaves V8 as it is', async () => {
    const set = vi.spyOn(v8, 'setFlagsFromString');
    const pipeline = await createPipeline({
      workers: { min: 1, max: 1, concurrentArrayBufferSweeping: true },
      ...ndjsonSinks(),
    });
    expect(inlineSweepingHolders()).toBe(0);
    await pipeline.close();
    expect(set).not.toHaveBeenCalled();
  });

  it('a pipeline that fails to start gives it back', async () => {
    const set = vi.spyOn(v8, 'setFlagsFromString');
    await expect(
      createPipeline({
        workers: { min: 1, max: 1 },
        transform: fixtureUrl('no-such-transform'),
        ...ndjsonSinks(),
      }),
    ).rejects.toThrow();
    expect(set.mock.calls).toEqual([[OFF], [ON]]);
    expect(inlineSweepingHolders()).toBe(0);
  });
});
