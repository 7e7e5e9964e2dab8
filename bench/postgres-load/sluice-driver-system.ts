import type { LoadJob, LoadSystem, SystemRun } from './load-system.js';
import { runSingleChild } from './single-child.js';

const SCRIPT = new URL('./sluice-driver-script.js', import.meta.url).pathname;

interface DriverReport {
  startedAtMs: number;
  lastRowAtMs: number;
  /** The process's CPU (every thread) from the first push to the drain, µs. */
  spanCpuUs: number;
  written: number;
  deadLettered: number;
}

/**
 * Sluice as a library (sluice-driver-script.ts), timed from its first push to the drain — the same
 * span as BullMQ's first enqueue to last row, with the workers started before it as BullMQ's are.
 * The process's whole life is in the notes, and its CPU (start-up included) in the figures; its CPU
 * over the timed span alone in the notes too (`spanCpuUs`).
 */
export const sluiceDriver: LoadSystem = sluiceDriverWith(
  'sluice',
  'Sluice library: createPipeline + pushRawMany, the transform in worker threads, postgres sink, defaults',
  undefined,
);

/**
 * The same with V8's concurrent ArrayBuffer sweeping left on (workers.concurrentArrayBufferSweeping
 * true): run beside `sluice` (`--systems sluice,sluice-concurrent-sweep`) to weigh that default.
 */
export const sluiceDriverConcurrentSweep: LoadSystem = sluiceDriverWith(
  'sluice-concurrent-sweep',
  'Sluice library as `sluice`, workers.concurrentArrayBufferSweeping true (V8’s default)',
  { concurrentArrayBufferSweeping: true },
);

function sluiceDriverWith(
  name: string,
  describe: string,
  workers: Record<string, unknown> | undefined,
): LoadSystem {
  return { name, describe, commitsAsItGoes: true, run: (job) => runDriver(job, workers) };
}

async function runDriver(job: LoadJob, workers: Record<string, unknown> | undefined): Promise<SystemRun> {
  let report: DriverReport | undefined;
  const run = await runSingleChild(
    {
      label: 'sluice',
      command: process.execPath,
      args: [SCRIPT, job.databaseUrl, job.file, job.table, ...(workers ? [JSON.stringify(workers)] : [])],
      cwd: job.workDir,
      timeoutMs: job.timeoutMs,
      node: true,
    },
    (stdout) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        report = JSON.parse(line) as DriverReport;
      } catch {
        return { failure: 'the Sluice driver printed no report' };
      }
      return report.written === job.events
        ? {}
        : {
            failure: `Sluice wrote ${report.written} of ${job.events} (${report.deadLettered} dead-lettered)`,
          };
    },
  );
  if (!report) return run;
  return {
    ...run,
    seconds: (report.lastRowAtMs - report.startedAtMs) / 1000,
    timedFrom: 'first push → drained',
    startedAtMs: report.startedAtMs,
    notes: { ...report, processSeconds: run.seconds },
  };
}
