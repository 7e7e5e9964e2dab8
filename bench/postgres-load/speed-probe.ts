/** Iterations of the probe: about 120 ms on this machine's cores. */
const ITERATIONS = 100_000_000;

/**
 * Milliseconds for a fixed amount of integer work on this thread, taken before each run. The
 * machine's speed drifts — by up to 2× over minutes on a shared virtual machine, whose neighbours
 * on the host nothing inside it can see (no steal time is reported) — and this shows it: runs whose
 * probes differ were measured on different machines, in effect.
 */
export function speedProbeMs(): number {
  const started = performance.now();
  let x = 0;
  for (let i = 0; i < ITERATIONS; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
  const ms = performance.now() - started;
  // Uses x, so the loop cannot be optimised away.
  return x === 0.5 ? Number.NaN : ms;
}
