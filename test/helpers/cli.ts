/** Running the built CLI (`npm run build` first) as a user does, to completion. */
import { spawn } from 'node:child_process';
import { CLI, ROOT } from '../harness/built.js';

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Killed after this long, ms, so a command that hangs fails rather than stalls the suite. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** @default the repository root */
  cwd?: string;
}

/** Runs `sluice ARGS…` and resolves with its exit code and everything it printed. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<Exit> {
  return runNode([CLI, ...args], options);
}

/**
 * Runs `node ARGS…` (this Node) to its end and resolves with its exit code and everything it
 * printed; killed after `timeoutMs`, so a child that something keeps alive fails its test.
 */
export function runNode(args: readonly string[], options: CliOptions = {}): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}
