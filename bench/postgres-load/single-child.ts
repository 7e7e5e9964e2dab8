import { type ChildSpec, failureOf, rolesOf, startChild } from './child-run.js';
import type { SystemRun } from './load-system.js';
import { reapedChildrenCpuUs } from './proc-stat.js';

/**
 * A system that is one process, timed from spawn to exit — what a user running it waits for.
 * `check` reads its output and says what is wrong with it, if anything.
 */
export async function runSingleChild(
  spec: ChildSpec,
  check?: (stdout: string) => { failure?: string; notes?: Record<string, unknown> },
): Promise<SystemRun> {
  const before = reapedChildrenCpuUs();
  const outcome = await startChild(spec).done;
  const cpuUs = reapedChildrenCpuUs() - before;
  const checked = check?.(outcome.stdout) ?? {};
  const failure = failureOf(outcome, spec.timeoutMs) ?? checked.failure;
  const roles = rolesOf(outcome, cpuUs);
  return {
    seconds: outcome.wallSeconds,
    timedFrom: 'spawn → exit',
    startedAtMs: outcome.startedAtMs,
    ...(failure ? { failure } : {}),
    processes: [{ label: spec.label, ...(roles ? { roles } : {}) }],
    ...(checked.notes ? { notes: checked.notes } : {}),
  };
}
