#!/usr/bin/env node
import { sluiceCodeOf } from '../errors.js';
import { startEarlyPool } from './early-pool.js';
import { holdSignals, takeHeldSignals } from './early-signals.js';
import { EXIT_OK, EXIT_SOFTWARE, EXIT_USAGE, exitCodeFor } from './exit-codes.js';

type Command = (argv: string[]) => Promise<number> | number;

// Each command's modules load when it runs: `sluice run` does not pay for the bench harness.
const COMMANDS: Record<string, Command> = {
  bench: async (argv) => {
    const [{ benchCommand }, { benchEnvironment }] = await Promise.all([
      import('./bench-command.js'),
      import('../harness/bench-environment.js'),
    ]);
    return benchCommand(argv, benchEnvironment());
  },
  run: async (argv) => {
    // A signal while the command loads is a clean stop too, not the end of the process.
    holdSignals();
    // The worker pool starts first, so its first worker boots on the other CPU while this thread
    // loads the command (src/engine/worker-pool.ts).
    const early = await startEarlyPool(argv);
    try {
      return await (await import('./run-command.js')).runCommand(argv, process.env, early);
    } finally {
      // A run that ended before taking them (help, a config error) leaves signals to Node again.
      takeHeldSignals();
      // Ended here unless the pipeline took it: a config error leaves no thread behind.
      await early?.release();
    }
  },
  validate: async (argv) => (await import('./run-command.js')).validateCommand(argv),
  top: async (argv) => (await import('./top-command.js')).topCommand(argv),
};

const HELP = `Usage: sluice <command> [options]

Commands:
  bench      run a load scenario through Sluice and its baselines side by side
  run        read a source into a sink as a JSON or YAML config describes
  validate   check a run config without running it
  top        a live terminal view of a running Sluice's metrics server
  help       show this list, or with a command's name that command's help

Options:
  -h, --help     show this list
  -v, --version  print Sluice's version

'sluice help COMMAND' or 'sluice COMMAND --help' shows a command's options.
`;

function usageError(problem: string): number {
  console.error(`sluice: ${problem}; see 'sluice --help'`);
  return EXIT_USAGE;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    process.stdout.write(`${(await import('./version.js')).packageVersion()}\n`);
    return EXIT_OK;
  }
  if (first === 'help') {
    const [topic, ...extra] = rest;
    if (topic === undefined) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    if (extra.length > 0) return usageError(`unexpected argument '${extra[0]}' after 'help ${topic}'`);
    const command = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    return command ? command(['--help']) : usageError(`unknown command '${topic}'`);
  }
  if (first.startsWith('-')) return usageError(`unknown option '${first}'`);
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  return command ? command(rest) : usageError(`unknown command '${first}'`);
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
