/**
 * The piscina worker: attaches to the pipeline's shared memory and hands each batch descriptor to
 * the runtime in src/. Nothing else lives here.
 */
import { threadId, workerData } from 'node:worker_threads';
import type { BatchResult, BatchTask, WorkerSetup } from '../src/engine/batch-task.js';
import {
  asWorkerMessage,
  receiveSetup,
  type WorkerData,
  type WorkerMessage,
} from '../src/engine/worker-messages.js';
import { WorkerRuntime } from '../src/engine/worker-runtime.js';
import { serializeError } from '../src/errors.js';
import { preloadPostgresClient } from '../src/sinks/postgres-sink.js';

/** Set once the setup is here: in workerData, or — a pool started early — sent by the pipeline. */
let runtime: WorkerRuntime | undefined;
const data = workerData as WorkerData;
const ready = receiveSetup(data).then((setup) => {
  runtime = new WorkerRuntime(setup);
  listenForClose(setup, runtime);
  return runtime;
});
// Reported through the first task; this only keeps a failed setup from going unhandled.
ready.catch(() => {});
// A pool started early: the sink's client library loads while the setup is on its way (the
// command is still reading its config), not after — ~30 ms of a first batch's wait for `pg`.
if ('setupChannel' in data && data.preload?.includes('postgres')) void preloadPostgresClient();

function listenForClose(setup: WorkerSetup, closing: WorkerRuntime): void {
  const channel = new BroadcastChannel(setup.closeChannel);
  channel.onmessage = async (message: MessageEvent) => {
    // Other workers' replies arrive here too; only the pipeline's request is acted on.
    if (asWorkerMessage(message.data)?.code !== 'CLOSE') return;
    await closing.close();
    channel.postMessage({ code: 'CLOSED', threadId } satisfies WorkerMessage);
    channel.close();
  };
  // The channel must not keep an idle worker alive on its own.
  (channel as unknown as { unref?: () => void }).unref?.();
}

/**
 * piscina posts a task's thrown value to the main thread as it is, by structured clone, which
 * strips an Error down to message and stack; the serialized form crosses whole, and the main
 * thread revives it with its class and code (reviveError).
 */
export default async function run(task: BatchTask): Promise<BatchResult> {
  try {
    return await (runtime ?? (await ready)).run(task);
  } catch (error) {
    throw serializeError(error);
  }
}
