import type { LoadSystem } from './load-system.js';
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
export const sluiceDriver: LoadSystem = {
  name: 'sluice',
  describe:
    'Sluice library: createPipeline + pushRawMany, the transform in worker threads, postgres sink, defaults',
  commitsAsItGoes: true,
  async run(job) {
    let report: DriverReport | undefined;
    const run = await runSingleChild(
      {
        label: 'sluice',
        command: process.execPath,
        args: [SCRIPT, job.databaseUrl, job.file, job.table],
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
  },
};
