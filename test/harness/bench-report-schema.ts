/**
 * The shape `sluice bench --json FILE` promises, checked field by field: every problem is listed
 * by its JSON path, so a failing assertion says exactly what is missing or mistyped.
 */

type Kind = 'string' | 'number' | 'count' | 'object' | 'array';

function kindProblem(path: string, value: unknown, kind: Kind): string | undefined {
  if (value === undefined) return `${path} is missing`;
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value.length > 0
        ? undefined
        : `${path} must be a non-empty string, got ${JSON.stringify(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0
        ? undefined
        : `${path} must be a finite number ≥ 0, got ${JSON.stringify(value)}`;
    case 'count':
      return Number.isInteger(value) && (value as number) >= 0
        ? undefined
        : `${path} must be an integer ≥ 0, got ${JSON.stringify(value)}`;
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? undefined
        : `${path} must be an object, got ${JSON.stringify(value)}`;
    case 'array':
      return Array.isArray(value) ? undefined : `${path} must be an array, got ${JSON.stringify(value)}`;
  }
}

function fields(
  problems: string[],
  path: string,
  object: Record<string, unknown>,
  shape: Record<string, Kind>,
): void {
  for (const [name, kind] of Object.entries(shape)) {
    const problem = kindProblem(`${path}.${name}`, object[name], kind);
    if (problem) problems.push(problem);
  }
}

const RESULT_FIELDS: Record<string, Kind> = {
  system: 'string',
  events: 'count',
  seconds: 'number',
  eventsPerSec: 'number',
  latencyMs: 'object',
  peakRssMiB: 'number',
  maxQueueDepth: 'count',
  lost: 'count',
  duplicates: 'count',
  deadLettered: 'count',
};

const LATENCY_FIELDS: Record<string, Kind> = {
  p50: 'number',
  p90: 'number',
  p99: 'number',
  p999: 'number',
  max: 'number',
};

/**
 * Everything wrong with `value` as a bench report:
 * `{ scenario, env: { node, cpus, commit }, config, results: [{ system, events, seconds,
 * eventsPerSec, latencyMs: { p50, p90, p99, p999, max }, peakRssMiB, maxQueueDepth, lost,
 * duplicates, deadLettered }] }`. An empty list means it conforms.
 */
export function benchReportProblems(value: unknown): string[] {
  const problems: string[] = [];
  const top = kindProblem('report', value, 'object');
  if (top) return [top];
  const report = value as Record<string, unknown>;
  fields(problems, 'report', report, {
    scenario: 'string',
    env: 'object',
    config: 'object',
    results: 'array',
  });
  if (kindProblem('', report.env, 'object') === undefined) {
    fields(problems, 'report.env', report.env as Record<string, unknown>, {
      node: 'string',
      cpus: 'count',
      commit: 'string',
    });
    if ((report.env as { cpus?: number }).cpus === 0) problems.push('report.env.cpus must be at least 1');
  }
  if (!Array.isArray(report.results)) return problems;
  if (report.results.length === 0) problems.push('report.results must not be empty');
  report.results.forEach((result: unknown, i: number) => {
    const path = `report.results[${i}]`;
    const problem = kindProblem(path, result, 'object');
    if (problem) {
      problems.push(problem);
      return;
    }
    const r = result as Record<string, unknown>;
    fields(problems, path, r, RESULT_FIELDS);
    if (kindProblem('', r.latencyMs, 'object') === undefined) {
      fields(problems, `${path}.latencyMs`, r.latencyMs as Record<string, unknown>, LATENCY_FIELDS);
    }
  });
  return problems;
}
