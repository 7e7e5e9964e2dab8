/**
 * Wait/notify on one Int32 word of shared memory. Producer threads block with `Atomics.wait`;
 * the main thread must never block its event loop, so it awaits `Atomics.waitAsync` instead.
 *
 * Every caller follows the same pattern to avoid lost wake-ups: read the word, re-check its
 * condition, then wait with the value it read as the expected value. A notifier changes the word
 * before notifying, so a change that lands between the read and the wait makes the wait return
 * at once with 'not-equal' instead of sleeping through it.
 */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/** Blocks this thread until `words[index]` is notified or differs from `expected`. */
export function waitSync(
  words: Int32Array,
  index: number,
  expected: number,
  timeoutMs = Infinity,
): WaitResult {
  return Atomics.wait(words, index, expected, timeoutMs);
}

/** Resolves when `words[index]` is notified or differs from `expected`; never blocks the event loop. */
export function waitAsync(
  words: Int32Array,
  index: number,
  expected: number,
  timeoutMs = Infinity,
): Promise<WaitResult> | WaitResult {
  // `value` is a promise when the wait really started, or the immediate result when it did not.
  return Atomics.waitAsync(words, index, expected, timeoutMs).value;
}

/** Wakes every waiter on `words[index]`. The caller has already changed the word. */
export function notifyAll(words: Int32Array, index: number): void {
  Atomics.notify(words, index);
}
