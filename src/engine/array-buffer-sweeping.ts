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
 * process used 0.9–1.6 µs less CPU per event in five rounds out of five, and ran 1–6 % faster; on
 * NDJSON → PostgreSQL and SQLite it measured within the noise (docs/MEASUREMENTS.md).
 *
 * It is one flag for the whole process, read by V8 each time a collection asks for a sweep, so
 * switching it between collections is safe. Holds are counted: the first turns it off, the last
 * release turns it on again — V8's default; a value set at run time by other code is not known
 * here and not restored. The count is kept on the thread's global object, so every copy of this
 * module in a thread shares it, but threads do not: with pipelines created in two threads at once,
 * the first thread to close all of its own turns the flag on for both (they run on, only without
 * the saving). When `node`'s own command line sets it — or a flag that implies it off,
 * `--single-threaded-gc`, `--single-threaded`, `--predictable` — it is the user's choice and is
 * never touched.
 */
const FLAG = 'concurrent-array-buffer-sweeping';

/** Holds outstanding in this thread, on its global object: shared by every copy of this module. */
const HOLDS = Symbol.for('sluice.inlineArrayBufferSweepingHolds');
type WithHolds = typeof globalThis & { [HOLDS]?: number };
const scope = globalThis as WithHolds;

/**
 * Whether `execArgv` decides the flag itself: names it (`--flag`, `--no-flag`, `--noflag`, with
 * `-` or `_`, `=value` too) or a flag that implies it off.
 */
export function setOnCommandLine(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((arg) => COMMAND_LINE.test(arg.replaceAll('_', '-')));
}

const COMMAND_LINE = new RegExp(`^--((no-?)?${FLAG}|single-threaded-gc|single-threaded|predictable)(=|$)`);

/**
 * Turns concurrent ArrayBuffer sweeping off until the returned release is called (once; later
 * calls do nothing). `setFlags` and `execArgv` are for tests.
 */
export function holdInlineArrayBufferSweeping(
  setFlags: (flags: string) => void = (flags) => v8.setFlagsFromString(flags),
  execArgv: readonly string[] = process.execArgv,
): () => void {
  if (setOnCommandLine(execArgv)) return () => {};
  const holds = inlineSweepingHolders();
  if (holds === 0) setFlags(`--no-${FLAG}`);
  scope[HOLDS] = holds + 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = inlineSweepingHolders() - 1;
    scope[HOLDS] = left;
    if (left === 0) setFlags(`--${FLAG}`);
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
  return inlineSweepingHolders() > 0 ? 'inline' : 'concurrent';
}

/** How many holds are outstanding in this thread. */
export function inlineSweepingHolders(): number {
  return scope[HOLDS] ?? 0;
}
