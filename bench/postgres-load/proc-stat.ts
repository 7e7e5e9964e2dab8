import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): the unit of every CPU time in /proc. */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** One tick in microseconds: the resolution of every figure read here. */
export const TICK_US = 1_000_000 / TICKS_PER_SECOND;

/** CPU times of a process or thread from its stat file, µs. */
export interface StatCpu {
  /** utime + stime: this process (all its threads, dead ones included) or this thread. */
  ownUs: number;
  /** cutime + cstime: the children it has waited for (their whole trees). Zero for a thread. */
  childrenUs: number;
}

/**
 * Parses a /proc stat line. The command name in parentheses may itself hold spaces and
 * parentheses, so fields are counted from the last `)`.
 */
export function parseStat(text: string): StatCpu {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 of proc(5), state: utime is field 14, stime 15, cutime 16, cstime 17.
  const at = (field: number) => Number(fields[field - 3]);
  return { ownUs: (at(14) + at(15)) * TICK_US, childrenUs: (at(16) + at(17)) * TICK_US };
}

/** The stat of `/proc/<path>/stat`, or undefined once the process or thread is gone. */
export function readStat(path: string): StatCpu | undefined {
  try {
    return parseStat(readFileSync(`/proc/${path}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A thread's CPU time so far, µs, from its schedstat (nanoseconds on the CPU): exact, where its
 * stat's utime and stime are each rounded down to a tick — up to two ticks lost per thread, which
 * over a dozen threads would hide a quarter of a second.
 */
export function readThreadCpuUs(pid: number, tid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return undefined;
  }
}

/** The thread ids of a live process; none once it is gone. */
export function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU used so far by the children this process has waited for, µs. Node reaps a child before it
 * reports the child's exit, so the difference across a child's life is that child's whole CPU,
 * every thread and every process it started included — exact, where sampling would miss the last
 * moments before the exit.
 */
export function reapedChildrenCpuUs(): number {
  return readStat('self')!.childrenUs;
}

/** The whole machine's CPU so far, µs, summed over its CPUs. */
export interface MachineCpu {
  /** user, nice, system, irq and softirq: every process's work and the kernel's. */
  busyUs: number;
  /** Time the hypervisor ran something else while this machine wanted its CPUs. */
  stealUs: number;
}

export function machineCpu(): MachineCpu {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number) as number[];
  return {
    busyUs: (user! + nice! + system! + irq! + softirq!) * TICK_US,
    stealUs: (steal ?? 0) * TICK_US,
  };
}
