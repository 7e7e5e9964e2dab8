import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readStat } from './proc-stat.js';

/** Which local processes make up a server: those of a user (PostgreSQL), or of a command name (Redis). */
export type ServerMatch = { user: string } | { comm: string };

function uidOf(user: string): number | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name === user) return Number(uid);
    }
  } catch {
    // No passwd file: the server's processes cannot be found by user.
  }
  return undefined;
}

function commOf(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The pids of a server's processes now; empty when none runs on this machine. */
export function serverPids(match: ServerMatch): string[] {
  const uid = 'user' in match ? uidOf(match.user) : undefined;
  if ('user' in match && uid === undefined) return [];
  const pids: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (
        uid !== undefined
          ? statSync(`/proc/${pid}`).uid === uid
          : commOf(pid) === (match as { comm: string }).comm
      )
        pids.push(pid);
    } catch {
      // The process ended while the list was read.
    }
  }
  return pids;
}

/**
 * CPU a server has used so far, µs: for each of its processes, its own time and the time of the
 * children it reaped. A PostgreSQL backend that ends within a measurement moves from the first term
 * to the postmaster's second, so the difference of two readings counts it either way, and counts
 * the checkpointer, the WAL writer and autovacuum too. Undefined when no such process runs here.
 */
export function serverCpuUs(match: ServerMatch): number | undefined {
  const pids = serverPids(match);
  if (pids.length === 0) return undefined;
  let total = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) total += stat.ownUs + stat.childrenUs;
  }
  return total;
}

/**
 * A server's CPU while the benchmark runs nothing, µs per second: other clients and its own
 * background work, which every run's server figure includes too.
 */
export async function idleServerCpu(match: ServerMatch, ms = 2000): Promise<number | undefined> {
  const before = serverCpuUs(match);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = serverCpuUs(match);
  return before === undefined || after === undefined ? undefined : ((after - before) * 1000) / ms;
}
