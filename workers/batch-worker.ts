/**
 * The piscina worker: attaches to the pipeline's shared memory and hands each batch descriptor to
 * the runtime in src/. Nothing else lives here.
 */
import { threadId, workerData } from 'node:worker_threads';
import type { BatchResult, BatchTask, WorkerSetup } from '../src/engine/batch-task.js';
import { WorkerRuntime } from '../src/engine/worker-runtime.js';

const setup = workerData as WorkerSetup;
const runtime = new WorkerRuntime(setup);

const closing = new BroadcastChannel(setup.closeChannel);
closing.onmessage = async (message: MessageEvent) => {
  // Other workers' replies arrive here too; only the pipeline's request is acted on.
  if (message.data !== 'close') return;
  await runtime.close();
  closing.postMessage({ closed: threadId });
  closing.close();
};
// The channel must not keep an idle worker alive on its own.
(closing as unknown as { unref?: () => void }).unref?.();

export default function run(task: BatchTask): Promise<BatchResult> {
  return runtime.run(task);
}
