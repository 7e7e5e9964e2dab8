import { markResolved } from '../resolved-marker.js';
import {
  acrossFields,
  boolean,
  integer,
  MAX_TIMER_MS,
  positiveInteger,
  strictObject,
} from './option-schema.js';
import { DEFAULT_WORKER_OPTIONS } from './worker-defaults.js';

export interface WorkerOptions {
  /** Threads kept alive. @default 1 */
  min?: number;
  /** Threads at most. @default the number of CPUs (or `min`, when that is more) */
  max?: number;
  /**
   * Batches one worker runs at once, with the built-in sinks alone: the next batch read and encoded
   * while the last one's write waits on its sink. With a transform or a sink module (code of
   * yours, which may end its worker at any moment and take a neighbouring batch with it after that
   * one's writes, to be written twice), a worker runs one batch at a time and the others wait,
   * claimed, in the pool's queue.
   * @default 2
   */
  concurrentBatchesPerWorker?: number;
  /** A batch taking longer is abandoned, its worker replaced and the batch dispatched again, ms. @default 60000 */
  taskTimeoutMs?: number;
  /**
   * How long createPipeline() waits for the first worker to load the transform (its `setup()`
   * included) and open the sinks, ms; past it, it rejects with SLUICE_STARTUP_TIMEOUT.
   * @default 30000
   */
  startupTimeoutMs?: number;
  /**
   * Each worker's V8 young generation at most, MiB (Node's `resourceLimits.maxYoungGenerationSizeMb`;
   * 0 = V8's own default, 48 on 64-bit). A worker's garbage is almost all young: events decoded,
   * transformed and written within one batch. V8 grows the young generation towards its maximum
   * over the first seconds under load, so with its default every worker's RSS climbs by tens of
   * MiB before it levels off; 24 halves that climb and, measured in `sluice bench`, costs no
   * throughput (see docs/ARCHITECTURE.md, Measured). Lower values make allocation-heavy transforms
   * collect more often (12: −12 % in the cpu-heavy scenario). @default 24
   */
  maxYoungGenerationSizeMb?: number;
  /**
   * V8's `--concurrent-array-buffer-sweeping` while the pipeline runs. false (the default): Sluice
   * switches it off when the pipeline starts and on again (V8's default) when the last pipeline
   * this thread created closes, so each thread frees the ArrayBuffers it allocated (Buffers, typed
   * arrays, TextEncoder output) itself instead of a helper thread freeing them under the allocator's
   * lock (src/engine/array-buffer-sweeping.ts; on the cpu-heavy workload ~1.3 µs less CPU per event
   * and 1–6 % more events/s). It is a flag of the whole process: it applies to every thread of it
   * meanwhile, and `pipeline started` logs it (`arrayBufferSweeping`). true: this pipeline leaves it
   * alone (another pipeline of the process may still hold it off); set or implied on `node`'s
   * command line (`--single-threaded-gc`), the flag is left as given either way. @default false
   */
  concurrentArrayBufferSweeping?: boolean;
}

export type ResolvedWorkerOptions = Required<WorkerOptions>;

export { DEFAULT_WORKER_OPTIONS };

const d = DEFAULT_WORKER_OPTIONS;
const MAX_THREADS = 256;
const threads = () => integer(1, MAX_THREADS);

const fields = strictObject({
  min: threads().optional(),
  max: threads().optional(),
  concurrentBatchesPerWorker: integer(1, 64).default(d.concurrentBatchesPerWorker),
  taskTimeoutMs: positiveInteger('a positive integer of milliseconds').default(d.taskTimeoutMs),
  // A timer waits this long, and a Node timer waits at most MAX_TIMER_MS.
  startupTimeoutMs: integer(1, MAX_TIMER_MS, `an integer of milliseconds from 1 to ${MAX_TIMER_MS}`).default(
    d.startupTimeoutMs,
  ),
  maxYoungGenerationSizeMb: integer(0, 1024, "an integer from 0 (V8's default) to 1024").default(
    d.maxYoungGenerationSizeMb,
  ),
  concurrentArrayBufferSweeping: boolean().default(d.concurrentArrayBufferSweeping),
});

const isThreadCount = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_THREADS;

/** Worker options, validated and with every default filled in. */
export const workerOptionsSchema = acrossFields(fields, (given, report) => {
  const min = given.min ?? d.min;
  if (isThreadCount(min) && isThreadCount(given.max) && min > given.max) {
    report('min', `at most workers.max (${given.max})`);
  }
}).transform(
  ({ min = d.min, max, ...rest }): ResolvedWorkerOptions =>
    // Asked for more threads than there are CPUs, and no maximum: the minimum is the maximum.
    markResolved('workers', { min, max: max ?? Math.max(d.max, min), ...rest }),
);
