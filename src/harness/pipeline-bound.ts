/**
 * What bounds a pipeline, from the figures of one `sluice bench --config` run: the engine's
 * throughput against the two ceilings it could be pressed against.
 *
 * - the sink: the sink alone, written by one thread as fast as it accepts (its own ceiling);
 * - the transform: the same transform and sink in one thread, times the threads the engine can run
 *   at once (its workers, at most the CPUs) — what perfect parallelism of that work would give.
 *
 * The engine near the sink's ceiling is sink-bound (more workers will not help); near cores ×
 * one thread, transform-bound (more cores would); far below both, what is left is Sluice's own
 * overhead (handing events between threads, the ring, the dispatcher). An open-loop run whose
 * engine kept up with the offered rate is bound by that rate, not by the pipeline.
 */

export type PipelineBoundKind = 'sink' | 'transform' | 'overhead' | 'offered-rate';

export interface PipelineBoundInput {
  /** The engine's events/s. */
  engine: number;
  /** The same transform and sink in one thread, events/s. */
  singleThread: number;
  /** The sink alone, records/s from one writer; undefined or 0 when not measured. */
  sinkAlone: number | undefined;
  /** The engine's worker threads. */
  workers: number;
  /** CPUs of the machine. */
  cpus: number;
  /** Offered events/s of an open-loop run; undefined for a closed loop (`--rate max`). */
  offeredRate?: number;
  /** CPU µs per event, every thread of the process: the engine's and the single thread's. */
  engineCpuUsPerEvent?: number;
  singleThreadCpuUsPerEvent?: number;
  /** The machine's 1-minute load average at the end of the run (other processes compete for CPUs). */
  loadAverage?: number;
}

export interface PipelineBound {
  kind: PipelineBoundKind;
  /** One sentence saying what bounds the pipeline, with the figures it was decided from. */
  sentence: string;
  /** engine ÷ the sink alone (undefined when the sink alone was not measured). */
  ofSinkCeiling: number | undefined;
  /** engine ÷ (min(workers, CPUs) × single thread). */
  ofParallelCeiling: number;
  /** min(workers, CPUs): the threads the engine's workers can run at once. */
  parallelism: number;
}

/** The engine within this share of the sink's ceiling is sink-bound. */
export const SINK_BOUND_SHARE = 0.8;
/**
 * The engine well past the single writer's ceiling means the sink takes writers in parallel
 * (a server database): its one-writer figure is then no ceiling of the engine's.
 */
export const SINK_SCALES_SHARE = 1.25;
/** The engine within this share of cores × one thread is transform-bound. */
export const TRANSFORM_BOUND_SHARE = 0.7;
/** More CPU per event than one thread by more than this share is the engine's own extra work. */
const EXTRA_CPU_SHARE = 0.05;
/** Fewer CPUs busy than this share of the engine's parallelism means its threads waited. */
const BUSY_SHARE = 0.8;
/** An open-loop engine at this share of its offered rate kept up with it. */
const KEPT_UP_SHARE = 0.95;

const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} events/s`;
const percent = (x: number) => `${Math.round(x * 100)} %`;
/** At least `share`, as the sentence shows it (whole percent): a figure printed as 70 % meets 70 %. */
const atLeast = (x: number, share: number) => Math.round(x * 100) >= Math.round(share * 100);

/** Classifies a run's figures; see the module comment for the rule. */
export function classifyBound(input: PipelineBoundInput): PipelineBound {
  const { engine, singleThread, workers, cpus } = input;
  const parallelism = Math.max(1, Math.min(workers, cpus));
  const parallelCeiling = parallelism * singleThread;
  const ofParallelCeiling = parallelCeiling > 0 ? engine / parallelCeiling : 0;
  const sinkAlone = input.sinkAlone !== undefined && input.sinkAlone > 0 ? input.sinkAlone : undefined;
  const ofSinkCeiling = sinkAlone === undefined ? undefined : engine / sinkAlone;
  const base = { ofSinkCeiling, ofParallelCeiling, parallelism };
  if (input.offeredRate !== undefined && engine >= KEPT_UP_SHARE * input.offeredRate) {
    return {
      ...base,
      kind: 'offered-rate',
      sentence:
        `The offered rate bounds this run: the engine kept up with the ${rate(input.offeredRate)} offered ` +
        `(${rate(engine)}); run with --rate max to find the pipeline's own limit.`,
    };
  }
  if (
    ofSinkCeiling !== undefined &&
    sinkAlone !== undefined &&
    atLeast(ofSinkCeiling, SINK_BOUND_SHARE) &&
    ofSinkCeiling <= SINK_SCALES_SHARE
  ) {
    return {
      ...base,
      kind: 'sink',
      sentence:
        `The sink bounds this pipeline: the engine's ${rate(engine)} is ${percent(ofSinkCeiling)} of what ` +
        `the sink alone accepts from one writer (${rate(sinkAlone)}), so more workers will not make it faster.`,
    };
  }
  if (atLeast(ofParallelCeiling, TRANSFORM_BOUND_SHARE)) {
    return {
      ...base,
      kind: 'transform',
      sentence:
        `The transform bounds this pipeline: the engine's ${rate(engine)} is ${percent(ofParallelCeiling)} of ` +
        `${parallelism} × the single-thread ${rate(singleThread)}, so it scales with cores; more CPUs ` +
        `(and workers) or a cheaper transform make it faster.`,
    };
  }
  let cpuClause = '';
  const { engineCpuUsPerEvent: engineCpu, singleThreadCpuUsPerEvent: singleCpu } = input;
  if (engineCpu !== undefined && singleCpu !== undefined && singleCpu > 0) {
    const extra = engineCpu / singleCpu - 1;
    cpuClause =
      extra > EXTRA_CPU_SHARE
        ? `; it spends ${engineCpu.toFixed(1)} µs of CPU per event against ${singleCpu.toFixed(1)} µs in one ` +
          `thread, ${percent(extra)} more: the cost of handing events between threads`
        : `; it spends no more CPU per event than one thread (${engineCpu.toFixed(1)} µs against ${singleCpu.toFixed(1)})`;
  }
  let busyClause = '';
  if (engineCpu !== undefined) {
    const busy = (engine * engineCpu) / 1e6;
    const load = input.loadAverage === undefined ? '' : ` (load average ${input.loadAverage.toFixed(1)})`;
    busyClause =
      busy < BUSY_SHARE * parallelism
        ? `, and kept only ${busy.toFixed(1)} of ${cpus} CPUs busy${load}: its threads waited, for each other ` +
          'or for CPUs other processes held'
        : `, with ${busy.toFixed(1)} of ${cpus} CPUs busy${load}`;
  }
  const sinkPart =
    ofSinkCeiling === undefined || ofSinkCeiling > SINK_SCALES_SHARE
      ? ''
      : `${percent(ofSinkCeiling)} of the sink's ceiling (${rate(sinkAlone!)}) and `;
  return {
    ...base,
    kind: 'overhead',
    sentence:
      `Sluice's own overhead bounds this pipeline: the engine's ${rate(engine)} is only ${sinkPart}` +
      `${percent(ofParallelCeiling)} of ${parallelism} × the single-thread ${rate(singleThread)}` +
      `${cpuClause}${busyClause}; see --profile for where the time goes.`,
  };
}
