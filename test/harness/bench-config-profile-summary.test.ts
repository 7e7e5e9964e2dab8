/** A thread's CPU profile in words: self time per function, and the share of time by kind of code. */
import { describe, expect, it } from 'vitest';
import { type CpuProfile, kindOf, summarizeProfile } from '../../src/harness/report/profile-summary.js';

const ROOT = 'file:///app/node_modules/sluice/dist/';
const KINDS = { sluiceRoot: ROOT, transform: '/app/transform.mjs' };

describe('kindOf', () => {
  it.each([
    ['(garbage collector)', '', 'gc'],
    ['(idle)', '', 'idle'],
    ['(program)', '', 'program'],
    ['enrich', 'file:///app/transform.mjs', 'transform'],
    ['enrich', 'file:///app/transform.mjs?v=1', 'transform'],
    ['write', `${ROOT}src/sinks/sqlite-sink.js`, 'sink'],
    ['run', 'file:///app/node_modules/better-sqlite3/lib/methods/transaction.js', 'sink'],
    ['waitSync', `${ROOT}src/queue/wait.js`, 'blocked'],
    ['claim', `${ROOT}src/queue/ring-consumer.js`, 'sluice'],
    ['build', `${ROOT}src/harness/load-generator.js`, 'bench'],
    ['readFile', 'node:fs', 'other'],
  ])('%s in %s is %s', (name, url, kind) => {
    expect(kindOf(name, url, KINDS)).toBe(kind);
  });
});

describe('summarizeProfile', () => {
  // Six samples 1 ms apart: transform, transform, sink, idle, GC, transform (the last has no time after it).
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'enrich', url: 'file:///app/transform.mjs', lineNumber: 9 } },
      {
        id: 3,
        callFrame: { functionName: 'write', url: `${ROOT}src/sinks/sqlite-sink.js`, lineNumber: 110 },
      },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 5, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    ],
    samples: [2, 2, 3, 4, 5, 2],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000],
  };

  it('gives each sample the time to the next one, and the shares of the sampled time by kind', () => {
    const summary = summarizeProfile(profile, 'profiles/x.cpuprofile', 'engine.worker-1', KINDS);
    expect(summary.sampledMs).toBe(5);
    expect(summary.shares.transform).toBeCloseTo(0.4, 9);
    expect(summary.shares.sink).toBeCloseTo(0.2, 9);
    expect(summary.shares.idle).toBeCloseTo(0.2, 9);
    expect(summary.shares.gc).toBeCloseTo(0.2, 9);
  });

  it('ranks functions by self time, idle left out, each with where it is', () => {
    const summary = summarizeProfile(profile, 'profiles/x.cpuprofile', 'engine.worker-1', KINDS);
    expect(summary.top.map((f) => [f.name, f.where, f.kind, f.selfMs])).toEqual([
      ['enrich', 'transform.mjs:10', 'transform', 2],
      ['write', 'sqlite-sink.js:111', 'sink', 1],
      ['(garbage collector)', '', 'gc', 1],
    ]);
  });
});
