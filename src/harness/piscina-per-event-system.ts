import { Piscina } from 'piscina';
import type { SluiceEvent } from '../codec/event.js';
import { resolveRetryOptions } from '../config/retry-options-schema.js';
import type { SystemResult } from './bench-report.js';
import { type LoadPlan, runLoadAsync } from './load-generator.js';
import type { PerEventSetup } from './per-event-runtime.js';
import { RunSampler } from './run-sampler.js';
import { benchDeadLetterSpec, benchSinkSpec, type RunInstruments, type RunSettings } from './run-settings.js';
import { blocksOf, loadPlans, systemResult } from './systems.js';

const WORKER = new URL('../../workers/per-event-worker.js', import.meta.url).href;
/** Tasks in flight per worker thread: enough to keep each busy, bounded like any queue. */
const IN_FLIGHT_PER_WORKER = 64;

/** The naive multi-threaded design: `pool.run(event)` for every event, events structured-cloned. */
export async function runPiscinaPerEvent(
  settings: RunSettings,
  instruments: RunInstruments,
): Promise<SystemResult> {
  const { scenario } = settings;
  const setup: PerEventSetup = {
    transform: scenario.transform.href,
    sink: benchSinkSpec(settings, instruments, `per_event_${process.pid}_${Date.now()}`),
    deadLetter: benchDeadLetterSpec(instruments),
    retry: resolveRetryOptions(scenario.retry),
  };
  const pool = new Piscina<SluiceEvent | string, number>({
    filename: WORKER,
    minThreads: settings.workers,
    maxThreads: settings.workers,
    concurrentTasksPerWorker: IN_FLIGHT_PER_WORKER,
    workerData: setup,
  });
  const limit = settings.workers * IN_FLIGHT_PER_WORKER;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let failures = 0;
  const sampler = new RunSampler('piscina-per-event', settings, instruments, () => inFlight + pool.queueSize);
  const started = performance.now();
  const [plan] = loadPlans(settings, instruments, 1) as [LoadPlan];
  const settle = () => {
    inFlight--;
    wake?.();
  };
  instruments.beginLoad(settings.durationMs);
  const outcome = await runLoadAsync(plan, async (events) => {
    for (const event of events) {
      while (inFlight >= limit) await new Promise<void>((resolve) => (wake = resolve));
      inFlight++;
      pool.run(event).then(settle, () => {
        failures++;
        settle();
      });
    }
    return events.length;
  });
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  const seconds = (performance.now() - started) / 1000;
  sampler.stop();
  await pool.destroy();
  if (failures > 0) throw new Error(`piscina-per-event: ${failures} tasks failed`);
  return systemResult(
    'piscina-per-event',
    settings,
    instruments,
    blocksOf([plan], [outcome]),
    seconds,
    sampler,
    { threads: instruments.workerThreadIds().map((threadId, k) => ({ role: `worker-${k + 1}`, threadId })) },
  );
}
