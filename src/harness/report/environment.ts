import type { BenchEnvironment } from '../bench-report.js';

/** A full git hash is noise in a caption; twelve hex digits identify a commit. */
const SHORT_COMMIT = 12;

function shortCommit(commit: string): string {
  const match = /^([0-9a-f]{13,})(-dirty)?$/i.exec(commit);
  return match ? `${match[1]!.slice(0, SHORT_COMMIT)}${match[2] ?? ''}` : commit;
}

/** An ISO timestamp as `2025-11-28 21:06 UTC`; anything else as given. */
export function formatDate(date: string): string {
  const ms = Date.parse(date);
  if (Number.isNaN(ms)) return date;
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** Where the figures were measured, as caption parts: Sluice's version, Node, CPUs, commit, date (when known). */
export function environmentParts(env: BenchEnvironment, withCpuModel: boolean): string[] {
  const cpus = `${env.cpus} CPU${env.cpus === 1 ? '' : 's'}`;
  const parts = [
    ...(env.sluice ? [`Sluice ${env.sluice}`] : []),
    `Node ${env.node}`,
    withCpuModel && env.cpuModel ? `${cpus} (${env.cpuModel.trim()})` : cpus,
    `commit ${shortCommit(env.commit)}`,
  ];
  if (env.date) parts.push(formatDate(env.date));
  return parts;
}
