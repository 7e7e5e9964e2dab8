/**
 * The `sluice` command's manners, as a user meets them in the built CLI: bare `sluice` and --help
 * list the commands and run nothing, each command has its own help, --version prints the
 * package's version, and a mistake on the command line is one plain line with exit code 64.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_NO_INPUT, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import { ROOT } from '../harness/built.js';
import { runCli } from '../helpers/cli.js';

/** Runs the built CLI to completion (killed by a watchdog, so a command that starts a run fails fast). */
const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  runCli(args, { env, timeoutMs: 20_000 });

const sluice = (...args: string[]) => run(args);

const COMMANDS = ['bench', 'run', 'validate', 'top', 'help'];
/** The first line of each command's own help. */
const COMMAND_HELP: Record<string, string> = {
  bench: 'Usage: sluice bench [options]',
  run: 'Usage: sluice run --config FILE',
  validate: 'sluice validate --config FILE',
  top: 'Usage: sluice top',
};

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the command list', () => {
  it.each(['', ' --help', ' -h', ' help'])(
    '`sluice%s` lists every command, exits 0 and runs nothing',
    async (line) => {
      const { code, stdout, stderr } = await sluice(...line.split(' ').filter(Boolean));
      expect(code).toBe(EXIT_OK);
      expect(stdout).toMatch(/^Usage: sluice <command> \[options\]/);
      for (const command of COMMANDS) expect(stdout, command).toMatch(new RegExp(`^  ${command} `, 'm'));
      expect(stdout).toContain('-v, --version');
      expect(stdout).not.toContain('sluice bench — scenario');
      expect(stdout).not.toContain('Usage: sluice bench');
      expect(stderr).toBe('');
    },
  );
});

describe("a command's help", () => {
  it.each(Object.entries(COMMAND_HELP).map(([command, firstLine]) => ({ command, firstLine })))(
    '`sluice help $command`, `sluice $command --help` and `-h` print the same page of that command, exit 0',
    async ({ command, firstLine }) => {
      const viaHelp = await sluice('help', command);
      const viaFlag = await sluice(command, '--help');
      const viaShort = await sluice(command, '-h');
      for (const run of [viaHelp, viaFlag, viaShort]) {
        expect(run.code).toBe(EXIT_OK);
        expect(run.stdout).toContain(firstLine);
        expect(run.stdout).toContain('-h, --help');
        expect(run.stdout).not.toContain('Usage: sluice <command>');
        expect(run.stderr).toBe('');
      }
      expect(viaHelp.stdout).toBe(viaFlag.stdout);
      expect(viaShort.stdout).toBe(viaFlag.stdout);
    },
  );

  it('`sluice help nope` is an unknown command, exit 64', async () => {
    const { code, stdout, stderr } = await sluice('help', 'nope');
    expect(code).toBe(EXIT_USAGE);
    expect(stdout).toBe('');
    expect(stderr).toBe("sluice: unknown command 'nope'; see 'sluice --help'\n");
  });
});

describe('--version', () => {
  it.each(['-v', '--version'])('`sluice %s` prints the version in package.json, exit 0', async (flag) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { code, stdout, stderr } = await sluice(flag);
    expect(code).toBe(EXIT_OK);
    expect(stdout).toBe(`${version}\n`);
    expect(stderr).toBe('');
  });
});

describe('usage errors are one plain line with exit code 64', () => {
  it.each<[string[], string]>([
    [['frobnicate'], "sluice: unknown command 'frobnicate'; see 'sluice --help'"],
    [['--foo'], "sluice: unknown option '--foo'; see 'sluice --help'"],
    [['bench', '--foo'], "sluice: unknown option '--foo'; see 'sluice bench --help'"],
    [['bench', '-x'], "sluice: unknown option '-x'; see 'sluice bench --help'"],
    [['run', '--foo'], "sluice: unknown option '--foo'; see 'sluice run --help'"],
    [['validate', '--foo'], "sluice: unknown option '--foo'; see 'sluice run --help'"],
    [['top', '--foo'], "sluice: unknown option '--foo'; see 'sluice top --help'"],
    [['bench', '--duration'], "sluice: option '--duration' needs a value; see 'sluice bench --help'"],
    [['top', '--once=yes'], "sluice: option '--once' takes no value; see 'sluice top --help'"],
    [['run', 'pipeline.json'], "sluice: unexpected argument 'pipeline.json'; see 'sluice run --help'"],
  ])('`sluice %j` says %j', async (args, line) => {
    const { code, stdout, stderr } = await sluice(...args);
    expect(code).toBe(EXIT_USAGE);
    expect(stdout).toBe('');
    expect(stderr).toBe(`${line}\n`);
  });
});

describe('a config file that cannot be read', () => {
  it.each(['run', 'validate'])('`sluice %s` says "cannot read FILE" and exits 66', async (command) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    dirs.push(dir);
    const missing = join(dir, 'missing.yaml');
    const absent = await sluice(command, '--config', missing);
    expect(absent.code).toBe(EXIT_NO_INPUT);
    expect(absent.stderr).toBe(`sluice: cannot read ${missing}: no such file or directory\n`);
    const directory = await sluice(command, '--config', dir);
    expect(directory.code).toBe(EXIT_NO_INPUT);
    expect(directory.stderr).toMatch(new RegExp(`^sluice: cannot read ${dir}: .+\\n$`));
  });
});

describe('a sink that cannot be reached', () => {
  it('`sluice bench` says why in one line and exits 69, not as an internal error', async () => {
    const { code, stderr } = await run(
      ['bench', '--scenario', 'postgres', '--systems', 'engine', '--duration', '0.5', '--workers', '1'],
      { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' },
    );
    expect(code).toBe(EXIT_UNAVAILABLE);
    expect(stderr).toMatch(
      /^sluice: postgres: cannot create table "[^"]+": connect ECONNREFUSED 127\.0\.0\.1:1$/m,
    );
    expect(stderr).not.toContain('internal error');
  });
});
