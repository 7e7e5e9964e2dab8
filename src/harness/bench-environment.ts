import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import type { BenchEnvironment } from './bench-report.js';

/** Where a figure was measured: Node, CPUs, commit (when run from a git checkout), date. */
export function benchEnvironment(): BenchEnvironment {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // Not run from a git checkout (an installed package): the commit stays unknown.
  }
  return {
    node: process.version,
    cpus: availableParallelism(),
    commit,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
  };
}
