/** The piscina-per-event baseline's worker file: one event per task (see src/harness/per-event-runtime.ts). */
import { workerData } from 'node:worker_threads';
import type { SluiceEvent } from '../src/codec/event.js';
import { PerEventRuntime, type PerEventSetup } from '../src/harness/per-event-runtime.js';

const runtime = new PerEventRuntime(workerData as PerEventSetup);

export default function run(event: SluiceEvent | string): Promise<number> {
  return runtime.run(event);
}
