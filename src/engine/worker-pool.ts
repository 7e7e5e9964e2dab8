import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { DEFAULT_WORKER_OPTIONS } from '../config/worker-defaults.js';
import type { ResolvedWorkerOptions } from '../config/worker-options.js';
import type { BatchResult, BatchTask, WorkerSetup } from './batch-task.js';
import {
  asWorkerMessage,
  type PreloadedClient,
  type WorkerData,
  type WorkerMessage,
} from './worker-messages.js';

export type WorkerPool = Piscina<BatchTask, BatchResult>;

/** The worker options a pool is made with: the rest apply to tasks and may differ. */
type PoolShape = Pick<
  ResolvedWorkerOptions,
  'min' | 'max' | 'concurrentBatchesPerWorker' | 'maxYoungGenerationSizeMb'
>;

/** The built worker entry, whether this module runs from dist/ or from the sources (tests). */
function workerFile(): string {
  const built = new URL('../../workers/batch-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built.href;
  return new URL('../../dist/workers/batch-worker.js', import.meta.url).href;
}

/** A pipeline's piscina pool, its workers started with `workerData`. */
export function createWorkerPool(shape: PoolShape, workerData: WorkerData): WorkerPool {
  const pool = new Piscina<BatchTask, BatchResult>({
    filename: workerFile(),
    minThreads: shape.min,
    maxThreads: shape.max,
    concurrentTasksPerWorker: shape.concurrentBatchesPerWorker,
    idleTimeout: 30_000,
    workerData,
    // 0 leaves V8's default, as Node does.
    resourceLimits: { maxYoungGenerationSizeMb: shape.maxYoungGenerationSizeMb },
    // Idle workers wait on their message port instead of blocking in Atomics.wait, so they can
    // hear the shutdown broadcast; a batch task is large enough that this costs nothing measurable.
    atomics: 'disabled',
  });
  // A worker that dies is replaced by piscina and its batch dispatched again by the dispatcher
  // (counted there); an error raised outside any task lands here and must not take the process down
  // before the pipeline, once it has a logger, listens too (Pipeline#start logs it).
  pool.on('error', () => {});
  return pool;
}

/** A pool a pipeline took: the pool, and how to end it. */
export interface TakenPool {
  pool: WorkerPool;
  destroy(): Promise<void>;
}

/**
 * A worker pool started before its pipeline exists, with the default worker options: `sluice
 * run` starts one before it loads the modules that read and validate its config, so that the
 * first worker boots and imports its modules (Node's start, Sluice's worker modules: on two CPUs
 * about as long as the command's own loading) on the other CPU meanwhile, instead of after it.
 * Its workers wait for their setup — the pipeline's shared memory and options, which do not
 * exist yet — on a BroadcastChannel (receiveSetup); the pipeline sends it when it takes the pool.
 * A config whose `workers` make a different pool does not take it: it is ended and the pipeline
 * starts its own, as without one.
 */
export class PrestartedPool {
  readonly #pool: WorkerPool;
  readonly #channelName: string;
  /** The sink clients its workers load while they wait for the setup. */
  readonly preload: readonly PreloadedClient[];
  #taken = false;
  #released: Promise<void> | undefined;

  private constructor(preload: readonly PreloadedClient[]) {
    this.preload = preload;
    this.#channelName = `sluice-setup-${process.pid}-${Math.random().toString(36).slice(2)}`;
    this.#pool = createWorkerPool(DEFAULT_WORKER_OPTIONS, { setupChannel: this.#channelName, preload });
  }

  /** Starts the pool; its workers load the `preload` sink clients while they wait for the setup. */
  static start(preload: readonly PreloadedClient[] = []): PrestartedPool {
    return new PrestartedPool(preload);
  }

  /** The BroadcastChannel its workers ask for their setup on (SETUP_WANTED). */
  get setupChannel(): string {
    return this.#channelName;
  }

  /** Whether a pipeline took the pool. */
  get taken(): boolean {
    return this.#taken;
  }

  /**
   * The pool, its workers sent `setup`, for a pipeline with these worker options; undefined when
   * they make a different pool or the pool was taken or released already — then it is ended.
   */
  take(workers: PoolShape, setup: WorkerSetup): TakenPool | undefined {
    const d = DEFAULT_WORKER_OPTIONS;
    const fits =
      workers.min === d.min &&
      workers.max === d.max &&
      workers.concurrentBatchesPerWorker === d.concurrentBatchesPerWorker &&
      workers.maxYoungGenerationSizeMb === d.maxYoungGenerationSizeMb;
    if (!fits || this.#taken || this.#released) {
      void this.release();
      return undefined;
    }
    this.#taken = true;
    const pool = this.#pool;
    const channel = new BroadcastChannel(this.#channelName);
    const answer: WorkerMessage = { code: 'SETUP', setup };
    channel.onmessage = (message: MessageEvent) => {
      // Other workers' requests and this channel's own answers are heard by every worker; only a
      // request is answered here.
      if (asWorkerMessage(message.data)?.code === 'SETUP_WANTED') channel.postMessage(answer);
    };
    // The pipeline keeps the process alive while it runs; the channel must not on its own.
    (channel as unknown as { unref?: () => void }).unref?.();
    // For the workers already listening; one that starts listening later asks (SETUP_WANTED).
    channel.postMessage(answer);
    return {
      pool,
      destroy: async () => {
        try {
          await pool.destroy();
        } finally {
          channel.close();
        }
      },
    };
  }

  /** Ends the pool unless a pipeline took it (then the pipeline ends it). */
  release(): Promise<void> {
    if (this.#taken) return Promise.resolve();
    this.#released ??= this.#pool.destroy();
    return this.#released;
  }
}
