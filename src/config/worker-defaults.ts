import { availableParallelism } from 'node:os';
import type { ResolvedWorkerOptions } from './worker-options.js';

/**
 * The worker options' defaults (see WorkerOptions), apart from their schema: `sluice run` starts
 * its worker pool with them before the modules that validate a config have loaded
 * (src/engine/worker-pool.ts).
 */
export const DEFAULT_WORKER_OPTIONS: Readonly<ResolvedWorkerOptions> = Object.freeze({
  min: 1,
  max: availableParallelism(),
  concurrentBatchesPerWorker: 2,
  taskTimeoutMs: 60_000,
  startupTimeoutMs: 30_000,
  maxYoungGenerationSizeMb: 24,
  concurrentArrayBufferSweeping: false,
});
