#!/usr/bin/env node
import { sluiceCodeOf } from '../errors.js';
import { EXIT_SOFTWARE, exitCodeFor } from './exit-codes.js';

// Each command's modules load when it runs: `sluice run` does not pay for the bench harness.
const bench = async (argv: string[]) => {
  const [{ benchCommand }, { benchEnvironment }] = await Promise.all([
    import('./bench-command.js'),
    import('../harness/bench-environment.js'),
  ]);
  return benchCommand(argv, benchEnvironment());
};

const HELP = (benchHelp: string) => `Usage: sluice <command> [options]

Commands:
  bench      run a load scenario through Sluice and its baselines side by side (default)
  run        read a source into a sink as a JSON or YAML config describes (sluice run --help)
  validate   check a run config without running it (sluice run --help); configs are JSON or YAML
  top        a live terminal view of a running Sluice's metrics server (sluice top --help)
  help       show this help

${benchHelp}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command.startsWith('-')) return bench(argv);
  if (command === 'bench') return bench(rest);
  if (command === 'top') return (await import('./top-command.js')).topCommand(rest);
  if (command === 'run') return (await import('./run-command.js')).runCommand(rest);
  if (command === 'validate') return (await import('./run-command.js')).validateCommand(rest);
  if (command === 'help') {
    process.stdout.write(HELP((await import('./bench-command.js')).BENCH_HELP));
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
