/**
 * What bounds a configured pipeline, decided from a run's figures: the engine against the sink
 * alone and against min(workers, CPUs) × the single thread.
 */
import { describe, expect, it } from 'vitest';
import { classifyBound } from '../../src/harness/pipeline-bound.js';

describe('classifyBound', () => {
  it('calls a pipeline sink-bound when the engine reaches most of what the sink alone accepts', () => {
    const bound = classifyBound({
      engine: 40_000,
      singleThread: 35_000,
      sinkAlone: 45_000,
      workers: 2,
      cpus: 2,
    });
    expect(bound.kind).toBe('sink');
    expect(bound.ofSinkCeiling).toBeCloseTo(40_000 / 45_000, 6);
    expect(bound.sentence).toMatch(/^The sink bounds this pipeline/);
    expect(bound.sentence).toContain('40,000 events/s');
    expect(bound.sentence).toContain('45,000 events/s');
    expect(bound.sentence).toContain('89 %');
  });

  it('calls a pipeline transform-bound when the engine is near workers × the single thread and far from the sink', () => {
    const bound = classifyBound({
      engine: 180_000,
      singleThread: 100_000,
      sinkAlone: 1_000_000,
      workers: 2,
      cpus: 2,
    });
    expect(bound.kind).toBe('transform');
    expect(bound.ofParallelCeiling).toBeCloseTo(0.9, 6);
    expect(bound.parallelism).toBe(2);
    expect(bound.sentence).toMatch(/^The transform bounds this pipeline/);
    expect(bound.sentence).toContain('90 % of 2 × the single-thread 100,000 events/s');
  });

  it("calls what is far below both ceilings Sluice's own overhead, with the CPU per event when given", () => {
    const bound = classifyBound({
      engine: 100_000,
      singleThread: 100_000,
      sinkAlone: 1_000_000,
      workers: 2,
      cpus: 2,
      engineCpuUsPerEvent: 12.25,
      singleThreadCpuUsPerEvent: 8.5,
      loadAverage: 3.04,
    });
    expect(bound.kind).toBe('overhead');
    expect(bound.sentence).toMatch(/^Sluice's own overhead bounds this pipeline/);
    expect(bound.sentence).toContain('10 % of the sink');
    expect(bound.sentence).toContain('50 % of 2 × the single-thread');
    expect(bound.sentence).toContain('12.3 µs of CPU per event against 8.5 µs in one thread, 44 % more');
    // 100 000 events/s × 12.25 µs: 1.2 CPUs of 2 busy, the rest waiting.
    expect(bound.sentence).toContain('kept only 1.2 of 2 CPUs busy (load average 3.0): its threads waited');
  });

  it('says when the engine spends no more CPU per event than one thread, and kept its CPUs busy', () => {
    const bound = classifyBound({
      engine: 100_000,
      singleThread: 100_000,
      sinkAlone: 1_000_000,
      workers: 2,
      cpus: 2,
      engineCpuUsPerEvent: 17,
      singleThreadCpuUsPerEvent: 17.5,
    });
    expect(bound.kind).toBe('overhead');
    expect(bound.sentence).toContain('no more CPU per event than one thread (17.0 µs against 17.5)');
    expect(bound.sentence).toContain('with 1.7 of 2 CPUs busy;');
  });

  it('decides on the percentages the sentence shows: 69.6 % of the parallel ceiling is shown, and counted, as 70 %', () => {
    const bound = classifyBound({
      engine: 139_200,
      singleThread: 100_000,
      sinkAlone: 1_000_000,
      workers: 2,
      cpus: 2,
    });
    expect(bound.kind).toBe('transform');
    expect(bound.sentence).toContain('70 % of 2 ×');
  });

  it('counts no more threads than CPUs: 8 workers on 2 CPUs run 2 at a time', () => {
    const bound = classifyBound({
      engine: 150_000,
      singleThread: 100_000,
      sinkAlone: 900_000,
      workers: 8,
      cpus: 2,
    });
    expect(bound.parallelism).toBe(2);
    expect(bound.ofParallelCeiling).toBeCloseTo(0.75, 6);
    expect(bound.kind).toBe('transform');
  });

  it('does not take one writer’s ceiling for the bound when the engine writes well past it (a sink that takes parallel writers)', () => {
    const bound = classifyBound({
      engine: 300_000,
      singleThread: 80_000,
      sinkAlone: 100_000,
      workers: 4,
      cpus: 4,
    });
    expect(bound.ofSinkCeiling).toBeCloseTo(3, 6);
    expect(bound.kind).toBe('transform');
  });

  it('says the offered rate bounds an open-loop run the engine kept up with, and not otherwise', () => {
    const kept = classifyBound({
      engine: 9_900,
      singleThread: 50_000,
      sinkAlone: 80_000,
      workers: 2,
      cpus: 2,
      offeredRate: 10_000,
    });
    expect(kept.kind).toBe('offered-rate');
    expect(kept.sentence).toContain('--rate max');
    const behind = classifyBound({
      engine: 45_000,
      singleThread: 40_000,
      sinkAlone: 50_000,
      workers: 2,
      cpus: 2,
      offeredRate: 100_000,
    });
    expect(behind.kind).toBe('sink');
  });

  it('leaves the sink out when the sink alone was not measured', () => {
    const bound = classifyBound({
      engine: 50_000,
      singleThread: 100_000,
      sinkAlone: undefined,
      workers: 2,
      cpus: 2,
    });
    expect(bound.ofSinkCeiling).toBeUndefined();
    expect(bound.kind).toBe('overhead');
    expect(bound.sentence).not.toContain('sink');
  });
});
