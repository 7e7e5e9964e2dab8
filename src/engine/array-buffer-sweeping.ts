import v8 from 'node:v8';

/**
 * V8's `--concurrent-array-buffer-sweeping`, switched off while a pipeline runs (see
 * WorkerOptions.concurrentArrayBufferSweeping).
 *
 * A dead ArrayBuffer's memory (every Uint8Array, Buffer and TextEncoder output that is not tiny)
 * was malloc'd by the thread that allocated it. With the flag on — V8's default — a scavenge hands
 * the frees to a helper thread; that thread frees into the allocating thread's malloc arena, under
 * the arena's lock, while the worker allocates from it: two threads on one lock, and on a machine
 * with as many busy threads as cores, each contended unlock a futex wake-up. With it off, the
 * thread that collects frees its own buffers, and the next allocation reuses them from its own
 * cache. On the cpu-heavy workload (a transform that allocates twelve typed arrays an event) the
 * process used 0.9–1.6 µs less CPU per event and ran 0–6 % faster, in five rounds out of five; on
 * NDJSON → PostgreSQL and SQLite it measured within the noise (docs/MEASUREMENTS.md).
 *
 * It is one flag for the whole process, read by V8 each time a collection asks for a sweep, so
 * switching it between collections is safe. Holds are counted: the first turns it off, the last
 * release turns it back on. The count is this module's, so per thread that creates pipelines: with
 * pipelines created in two threads at once, the first of them to close all of its own turns the
 * flag back on for both (they run on, only without the saving). Given on `node`'s own command
 * line, either way, it is the user's choice and is never touched.
 */
const FLAG = 'concurrent-array-buffer-sweeping';

let holders = 0;

/** Whether `execArgv` sets the flag itself (`--flag`, `--no-flag`, `--noflag`, with `-` or `_`, `=value` too). */
export function setOnCommandLine(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((arg) => COMMAND_LINE.test(arg.replaceAll('_', '-')));
}

const COMMAND_LINE = new RegExp(`^--(no-?)?${FLAG}(=|$)`);

/**
 * Turns concurrent ArrayBuffer sweeping off until the returned release is called (once; later
 * calls do nothing). `setFlags` and `execArgv` are for tests.
 */
export function holdInlineArrayBufferSweeping(
  setFlags: (flags: string) => void = (flags) => v8.setFlagsFromString(flags),
  execArgv: readonly string[] = process.execArgv,
): () => void {
  if (setOnCommandLine(execArgv)) return () => {};
  if (holders === 0) setFlags(`--no-${FLAG}`);
  holders++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders--;
    if (holders === 0) setFlags(`--${FLAG}`);
  };
}

/**
 * How ArrayBuffers are swept in this process now, for the logs: `inline` while a pipeline holds the
 * flag off, `concurrent` (V8's default) otherwise, `node-flag` when `node`'s command line set it.
 */
export function arrayBufferSweeping(
  execArgv: readonly string[] = process.execArgv,
): 'inline' | 'concurrent' | 'node-flag' {
  if (setOnCommandLine(execArgv)) return 'node-flag';
  return holders > 0 ? 'inline' : 'concurrent';
}

/** @internal How many holds are outstanding (tests). */
export function inlineSweepingHolders(): number {
  return holders;
}
