#!/usr/bin/env node
import { sluiceCodeOf } from '../errors.js';
import { benchEnvironment } from '../harness/bench-environment.js';
import { BENCH_HELP, benchCommand } from './bench-command.js';
import { EXIT_SOFTWARE, exitCodeFor } from './exit-codes.js';
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
  // By code, not instanceof: an error revived from a worker thread, or raised by another copy of
  // the package, is Sluice's all the same. Its message says what to fix; a stack would not help.
  const code = sluiceCodeOf(error);
  if (code !== undefined) {
    console.error(`sluice: ${(error as Error).message.replace(/\s*\n\s*/g, ' ')}`);
    process.exitCode = exitCodeFor(code);
  } else {
    console.error('sluice: internal error (a bug; please report it with this output):');
    console.error(error);
    process.exitCode = EXIT_SOFTWARE;
  }
}
