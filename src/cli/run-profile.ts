import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flameGraphSvg } from '../harness/report/flame-graph.js';
import {
  type CodeKinds,
  type CpuProfile,
  profileSummaryText,
  summarizeProfile,
} from '../harness/report/profile-summary.js';

/** What `sluice run --profile DIR [--profile-seconds S]` asked for. */
export interface ProfileFlags {
  dir: string;
  /** Stop the run (as SIGTERM does) after this long; undefined: until the source ends or a signal. */
  seconds: number | undefined;
}

/** A profile written by a profiled run, named by the role of its thread. */
export interface ThreadProfile {
  /** `main`, or `worker-<threadId>` (the pipeline's worker threads are its only other threads). */
  thread: string;
  file: string;
}

/**
 * Runs `sluice run` again in a child process under V8's `--cpu-prof`, which profiles the main
 * thread and every worker thread and writes each profile when its thread ends — so the run must
 * end by itself (its source ends, SIGINT/SIGTERM — passed on to the child — or `seconds`), never
 * by SIGKILL. Then names each profile by its thread's role, in `dir`. Resolves with the child's
 * exit code and the profiles.
 */
export async function runProfiled(
  argv: readonly string[],
  flags: ProfileFlags,
): Promise<{ code: number; profiles: ThreadProfile[] }> {
  const dir = resolve(flags.dir);
  const raw = join(dir, '.raw');
  rmSync(raw, { recursive: true, force: true });
  mkdirSync(raw, { recursive: true });
  // The command as `bin` runs it: the bundle (src/cli/bundle-cli.ts), beside this module and its chunk.
  const main = fileURLToPath(new URL('./sluice.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${raw}`, main, 'run', ...argv],
    { stdio: 'inherit' },
  );
  const pass = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', pass);
  process.on('SIGTERM', pass);
  const timer =
    flags.seconds === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), flags.seconds * 1000);
  const code = await new Promise<number>((done) =>
    child.once('close', (exit, signal) => done(exit ?? (signal === 'SIGINT' ? 130 : 1))),
  );
  clearTimeout(timer);
  process.off('SIGINT', pass);
  process.off('SIGTERM', pass);
  const profiles = nameByThread(raw, dir);
  rmSync(raw, { recursive: true, force: true });
  return { code, profiles };
}

/**
 * V8 names a profile `CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile`; thread 0 is the main
 * thread. Moves each to `<role>.cpuprofile` in `dir`, replacing a profile of the same name there.
 */
function nameByThread(raw: string, dir: string): ThreadProfile[] {
  const profiles: ThreadProfile[] = [];
  const files = readdirSync(raw).filter((file) => file.endsWith('.cpuprofile'));
  for (const file of files) {
    const threadId = Number(file.split('.')[4]);
    const thread = threadId === 0 ? 'main' : `worker-${Number.isInteger(threadId) ? threadId : file}`;
    const named = `${thread}.cpuprofile`;
    renameSync(join(raw, file), join(dir, named));
    profiles.push({ thread, file: named });
  }
  return profiles.sort((a, b) => order(a.thread) - order(b.thread));
}

function order(thread: string): number {
  return thread === 'main' ? -1 : Number(thread.slice('worker-'.length)) || 0;
}

/**
 * Writes a flame graph (`<thread>.flame.svg`, self-contained) beside each profile in `dir`, and
 * returns each thread's top functions by self time and its time by kind (transform, sink, Sluice,
 * GC, idle…) as text.
 */
export function summarizeProfiles(dir: string, profiles: readonly ThreadProfile[], kinds: CodeKinds): string {
  const summaries = profiles.map(({ thread, file }) => {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const flame = file.replace(/\.cpuprofile$/, '.flame.svg');
    writeFileSync(join(dir, flame), flameGraphSvg(profile, `${thread} — sluice run`, kinds));
    return { ...summarizeProfile(profile, file, thread, kinds), flameGraph: flame };
  });
  return profileSummaryText(summaries);
}
