/**
 * SIGINT and SIGTERM that arrive while `sluice run` is still loading — before its own handlers are
 * installed, when Node's default would end the process at once (exit 143) — held, to be handled
 * as the run handles any: the first a clean stop, the second an exit without draining.
 */
const held: NodeJS.Signals[] = [];
const hold = (signal: NodeJS.Signals) => {
  held.push(signal);
};

/** Holds SIGINT and SIGTERM from now on, until takeHeldSignals. */
export function holdSignals(): void {
  process.on('SIGINT', hold);
  process.on('SIGTERM', hold);
}

/** Stops holding signals; returns those received meanwhile, in order. */
export function takeHeldSignals(): NodeJS.Signals[] {
  process.off('SIGINT', hold);
  process.off('SIGTERM', hold);
  return held.splice(0);
}
