import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type ThreadRoles, ThreadSampler, threadRoles } from './thread-roles.js';

const THREAD_TAG = new URL('./thread-tag.cjs', import.meta.url).pathname;
/** Output kept of each stream, for the failure message. */
const TAIL_CHARS = 4096;

/** Wall-clock now, ms since the epoch, with sub-millisecond precision (comparable across processes). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface ChildSpec {
  /** Names the process in messages and its thread log. */
  label: string;
  command: string;
  args: string[];
  cwd: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) past this. */
  timeoutMs: number;
  /** A Node process: thread-tag.cts is preloaded and its threads are sampled, to split its CPU by role. */
  node?: boolean;
  /** Opens an IPC channel (process.send in the child). */
  ipc?: boolean;
}

export interface ChildOutcome {
  label: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** When it was spawned, ms since the epoch. */
  startedAtMs: number;
  /** Spawn to exit. */
  wallSeconds: number;
  stdout: string;
  stderr: string;
  /** For a Node process, its thread log and the sampler's last reading of each thread. */
  threadLog?: string;
  sampled?: ReadonlyMap<number, number>;
}

export interface RunningChild {
  child: ChildProcess;
  done: Promise<ChildOutcome>;
}

/** Spawns a process, bounded by its timeout, keeping the tail of its output. */
export function startChild(spec: ChildSpec): RunningChild {
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
  let threadLog: string | undefined;
  if (spec.node) {
    threadLog = join(spec.cwd, `${spec.label}.threads`);
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --require ${THREAD_TAG}`.trim();
    env.SLUICE_BENCH_THREAD_LOG = threadLog;
  }
  const startedAtMs = epochMs();
  const started = performance.now();
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe', ...(spec.ipc ? (['ipc'] as const) : [])],
  });
  const sampler = spec.node && child.pid !== undefined ? new ThreadSampler(child.pid) : undefined;
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString()).slice(-TAIL_CHARS);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-TAIL_CHARS);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, spec.timeoutMs);
  const done = new Promise<ChildOutcome>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      const wallSeconds = (performance.now() - started) / 1000;
      clearTimeout(timer);
      sampler?.stop();
      resolve({
        label: spec.label,
        code,
        signal,
        timedOut,
        startedAtMs,
        wallSeconds,
        stdout,
        stderr,
        ...(threadLog ? { threadLog, sampled: sampler!.last } : {}),
      });
    };
    child.once('error', (error) => {
      stderr += `\n${error.message}`;
      finish(null, null);
    });
    child.once('exit', finish);
  });
  return { child, done };
}

/** Why a child's run does not count, or undefined when it exited 0 in time. */
export function failureOf(outcome: ChildOutcome, timeoutMs: number): string | undefined {
  if (outcome.timedOut) return `${outcome.label} timed out after ${timeoutMs / 1000} s`;
  if (outcome.code === 0) return undefined;
  const last =
    outcome.stderr.trim().split('\n').slice(-3).join(' | ') || outcome.stdout.trim().split('\n').pop();
  return `${outcome.label} exited ${outcome.code ?? outcome.signal}: ${last ?? ''}`;
}

/** A Node child's CPU by thread role; `totalUs`, when known exactly, replaces its own total. */
export function rolesOf(outcome: ChildOutcome, totalUs?: number): ThreadRoles | undefined {
  if (!outcome.threadLog || !outcome.sampled) return undefined;
  return threadRoles(outcome.threadLog, outcome.sampled, totalUs);
}
