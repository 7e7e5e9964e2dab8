/** What a stand-alone benchmark script needs: where it ran, its `--name value` flags, medians. */
export { benchEnvironment as benchEnv } from './bench-environment.js';
export type { BenchEnvironment as BenchEnv } from './bench-report.js';

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
