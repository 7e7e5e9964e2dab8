#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { SluiceError } from '../errors.js';
import type { BenchEnvironment } from '../harness/bench-report.js';
import { BENCH_HELP, benchCommand } from './bench-command.js';

const HELP = `Usage: sluice <command> [options]

Commands:
  bench      run a load scenario through Sluice and its baselines side by side (default)
  help       show this help

${BENCH_HELP}`;

function environment(): BenchEnvironment {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // Not run from a git checkout: the commit stays unknown.
  }
  return {
    node: process.version,
    cpus: availableParallelism(),
    commit,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command.startsWith('-')) return benchCommand(argv, environment());
  if (command === 'bench') return benchCommand(rest, environment());
  if (command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  console.error(`sluice: unknown command ${JSON.stringify(command)}; try 'sluice help'`);
  return 64;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof SluiceError) {
    console.error(`sluice: ${error.message}`);
    process.exitCode = 64;
  } else throw error;
}
