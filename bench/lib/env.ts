import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';

/** Where a figure was measured: every benchmark result carries it. */
export interface BenchEnv {
  node: string;
  cpus: number;
  cpuModel: string;
  commit: string;
  date: string;
}

export function benchEnv(): BenchEnv {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // Not a git checkout (e.g. an installed package): the commit stays unknown.
  }
  return {
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    commit,
    date: new Date().toISOString(),
  };
}

/** The median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Reads `--name value` from argv. */
export function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
