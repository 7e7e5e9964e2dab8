import { machineCpu } from './proc-stat.js';

/** The machine's and this process's CPU at a moment, to tell later what else ran meanwhile. */
export interface LoadMark {
  busyUs: number;
  stealUs: number;
  selfUs: number;
  at: number;
}

export function markLoad(): LoadMark {
  const machine = machineCpu();
  const self = process.cpuUsage();
  return { ...machine, selfUs: self.user + self.system, at: performance.now() };
}

/**
 * Since `mark`, in cores (µs per µs of wall time): the machine's busy CPU that was neither
 * `accountedUs` (the measured processes and servers) nor this benchmark's own — other work on a
 * shared machine, and kernel threads (writeback of the run's own files too) — and the CPU the
 * hypervisor gave to others.
 */
export function otherLoadSince(
  mark: LoadMark,
  accountedUs: number,
): { otherLoadCores: number; stealCores: number } {
  const now = markLoad();
  const wallUs = (now.at - mark.at) * 1000;
  const otherUs = now.busyUs - mark.busyUs - accountedUs - (now.selfUs - mark.selfUs);
  return { otherLoadCores: Math.max(0, otherUs) / wallUs, stealCores: (now.stealUs - mark.stealUs) / wallUs };
}
