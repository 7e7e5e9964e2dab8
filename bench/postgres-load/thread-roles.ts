import { readFileSync } from 'node:fs';
import { readThreadCpuUs, TICK_US, threadsOf } from './proc-stat.js';

/**
 * A Node process's CPU time by thread role, µs. Node names none of its threads, so the roles come
 * from thread-tag.cts: `main` is the main thread, `workers` the worker threads (Sluice's
 * piscina workers), `helpers` every other thread — V8's platform threads (background compilation,
 * concurrent GC), libuv's pool (file reads, DNS) and the inspector's signal thread.
 */
export interface ThreadRoles {
  mainUs: number;
  workersUs: number;
  helpersUs: number;
  /**
   * The process total less the three: what the process did after its exit handler (tearing down
   * V8 and the heap), the total's rounding to clock ticks, and any thread that ended unseen.
   */
  unattributedUs: number;
  totalUs: number;
  /** Worker threads that ran. */
  workerThreads: number;
}

/** Samples every thread of a process every `periodMs`, keeping each thread's last reading. */
export class ThreadSampler {
  /** Last CPU reading of each thread seen, µs. */
  readonly last = new Map<number, number>();
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number, periodMs = 100) {
    this.#pid = pid;
    this.#timer = setInterval(() => this.sample(), periodMs);
    this.#timer.unref();
  }

  sample(): void {
    for (const tid of threadsOf(this.#pid)) {
      const us = readThreadCpuUs(this.#pid, tid);
      if (us !== undefined) this.last.set(tid, us);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Splits a process's CPU by role from the thread log its preload wrote and the sampler's readings.
 * `totalUs`, when known from outside (the reaped child's exact time), replaces the total the
 * process wrote at exit. Undefined when the log is missing (the process died before writing it).
 */
export function threadRoles(
  logFile: string,
  sampled: ReadonlyMap<number, number>,
  totalUs?: number,
): ThreadRoles | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  const roles = new Map<number, string>();
  const atExit = new Map<number, number>();
  let processUs: number | undefined;
  for (const line of text.split('\n')) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'start') roles.set(Number(a), b!);
    else if (kind === 'thread') atExit.set(Number(a), Number(b) / 1000);
    else if (kind === 'process') processUs = Number(a) * TICK_US;
  }
  const total = totalUs ?? processUs;
  if (total === undefined) return undefined;
  const result: ThreadRoles = {
    mainUs: 0,
    workersUs: 0,
    helpersUs: 0,
    unattributedUs: 0,
    totalUs: total,
    workerThreads: [...roles.values()].filter((role) => role === 'worker').length,
  };
  for (const tid of new Set([...sampled.keys(), ...atExit.keys()])) {
    const us = atExit.get(tid) ?? sampled.get(tid) ?? 0;
    const role = roles.get(tid);
    if (role === 'main') result.mainUs += us;
    else if (role === 'worker') result.workersUs += us;
    else result.helpersUs += us;
  }
  result.unattributedUs = total - result.mainUs - result.workersUs - result.helpersUs;
  return result;
}
