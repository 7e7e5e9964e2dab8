/** The longest delay a Node timer takes, ms (~24.8 days); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * setTimeout for any delay, Infinity meaning never: a delay past MAX_TIMER_MS is waited out in
 * steps, rather than fire at once as Node's own timer would (with a warning). Returns what cancels it.
 */
export function longTimeout(callback: () => void, delayMs: number): () => void {
  if (delayMs === Number.POSITIVE_INFINITY) return () => {};
  const at = performance.now() + Math.max(0, delayMs);
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = at - performance.now();
    if (left > MAX_TIMER_MS) timer = setTimeout(arm, MAX_TIMER_MS);
    else timer = setTimeout(callback, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}
