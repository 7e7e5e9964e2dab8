#!/usr/bin/env node
import { SluiceError } from '../errors.js';
import { benchEnvironment } from '../harness/bench-environment.js';
import { BENCH_HELP, benchCommand } from './bench-command.js';
import { runCommand, validateCommand } from './run-command.js';
import { topCommand } from './top-command.js';

const HELP = `Usage: sluice <command> [options]

Commands:
  bench      run a load scenario through Sluice and its baselines side by side (default)
  run        read a source into a sink as a JSON or YAML config describes (sluice run --help)
  validate   check a run config without running it (sluice run --help); configs are JSON or YAML
  top        a live terminal view of a running Sluice's metrics server (sluice top --help)
  help       show this help

${BENCH_HELP}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command.startsWith('-')) return benchCommand(argv, benchEnvironment());
  if (command === 'bench') return benchCommand(rest, benchEnvironment());
  if (command === 'top') return topCommand(rest);
  if (command === 'run') return runCommand(rest);
  if (command === 'validate') return validateCommand(rest);
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
