import type { WorkerSetup } from './batch-task.js';

/**
 * Every message between the pipeline's main thread and its workers outside piscina's tasks. Each
 * carries a `code` the receiver switches on, so nothing crosses a thread untyped:
 *
 *   CLOSE         main thread → every worker, on the close channel: close your sinks
 *   CLOSED        one worker → the main thread (the other workers hear it too and ignore it): its
 *                 sinks are closed
 *   SETUP_WANTED  a worker of a pool started before its pipeline existed (src/engine/worker-pool.ts)
 *                 → the main thread, on the pool's setup channel: send me the pipeline's setup
 *   SETUP         main thread → the pool's workers, on the setup channel: the pipeline's WorkerSetup
 *                 (its shared memory included), once when the pipeline takes the pool and again
 *                 for each SETUP_WANTED
 *
 * A task's own outcome crosses through piscina: the BatchResult it resolved with, or the
 * SerializedError (src/errors.ts) it threw.
 */
export type WorkerMessage =
  | { code: 'CLOSE' }
  | { code: 'CLOSED'; threadId: number }
  | { code: 'SETUP_WANTED' }
  | { code: 'SETUP'; setup: WorkerSetup };

/** `data` as a WorkerMessage, or undefined for anything else that reached the channel. */
export function asWorkerMessage(data: unknown): WorkerMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const code = (data as { code?: unknown }).code;
  if (code === 'CLOSE' || code === 'SETUP_WANTED') return { code };
  if (code === 'CLOSED') {
    const threadId = (data as { threadId?: unknown }).threadId;
    return typeof threadId === 'number' ? { code, threadId } : undefined;
  }
  if (code === 'SETUP') {
    const setup = (data as { setup?: unknown }).setup;
    return typeof setup === 'object' && setup !== null ? { code, setup: setup as WorkerSetup } : undefined;
  }
  return undefined;
}

/** A sink client library a worker may load before its setup arrives (see preloadPostgresClient). */
export type PreloadedClient = 'postgres';

/**
 * A worker's workerData: its pipeline's setup, or the channel to ask for it on (a pool started
 * early), with the sink clients the pipeline will likely need, to load while it waits.
 */
export type WorkerData = WorkerSetup | { setupChannel: string; preload?: readonly PreloadedClient[] };

/**
 * The setup `data` is, or the one the pipeline sends on its setup channel: asked for once the
 * channel is open, so that a setup sent before the worker listened is sent again, and one sent
 * after reaches it anyway.
 */
export function receiveSetup(data: WorkerData): Promise<WorkerSetup> {
  if (!('setupChannel' in data)) return Promise.resolve(data);
  return new Promise((resolve) => {
    const channel = new BroadcastChannel(data.setupChannel);
    channel.onmessage = (message: MessageEvent) => {
      const received = asWorkerMessage(message.data);
      if (received?.code !== 'SETUP') return;
      channel.close();
      resolve(received.setup);
    };
    channel.postMessage({ code: 'SETUP_WANTED' } satisfies WorkerMessage);
  });
}
