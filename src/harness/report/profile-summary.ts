import { pathToFileURL } from 'node:url';

/** The parts of a V8 `.cpuprofile` this reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a thread's sampled time went, by kind of code. */
export const TIME_KINDS = [
  'transform',
  'sink',
  'sluice',
  'blocked',
  'bench',
  'gc',
  'idle',
  'program',
  'other',
] as const;
export type TimeKind = (typeof TIME_KINDS)[number];

/** One thread's profile in words: its top functions by self time, and the shares of time by kind. */
export interface ProfileSummary {
  /** The profile file, relative to --out. */
  file: string;
  /** Its flame graph (flame-graph.ts), an SVG relative to --out. */
  flameGraph?: string;
  /** `main`, or `<system>.<role>` (`engine.worker-1`, `engine.producer-1`, …). */
  thread: string;
  /** Sampled time, ms. */
  sampledMs: number;
  /** Share of the sampled time by kind of code, 0…1. */
  shares: Record<TimeKind, number>;
  /** The functions with the most self time, idle left out. */
  top: { name: string; where: string; kind: TimeKind; selfMs: number; share: number }[];
}

/** What tells the kinds of code apart: the transform's and the sink's module URLs, and Sluice's built files. */
export interface CodeKinds {
  /** The user's transform module (path or URL). */
  transform?: string;
  /** A user's sink module (path or URL). */
  sinkModule?: string;
  /** Sluice's built tree (dist/), a file URL ending in '/'. */
  sluiceRoot: string;
}

const SINK_PACKAGES = /\/node_modules\/(better-sqlite3|pg|pg-protocol|nats|ioredis)\//;

function asUrl(pathOrUrl: string): string {
  return /^[a-z]+:/i.test(pathOrUrl) ? pathOrUrl : pathToFileURL(pathOrUrl).href;
}

/** The kind of code a sampled frame belongs to. */
export function kindOf(functionName: string, url: string, kinds: CodeKinds): TimeKind {
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)' || functionName === '(root)') return 'program';
  const plain = url.split('?')[0]!;
  if (kinds.transform !== undefined && plain === asUrl(kinds.transform).split('?')[0]) return 'transform';
  if (kinds.sinkModule !== undefined && plain === asUrl(kinds.sinkModule)) return 'sink';
  if (SINK_PACKAGES.test(plain)) return 'sink';
  if (plain.startsWith(kinds.sluiceRoot)) {
    const rest = plain.slice(kinds.sluiceRoot.length);
    if (rest.startsWith('src/sinks/')) return 'sink';
    // Atomics.wait on a full or empty ring: sampled as running, but the thread is blocked.
    if (rest.startsWith('src/queue/wait')) return 'blocked';
    if (
      rest.startsWith('src/harness/') ||
      rest.startsWith('workers/bench-producer') ||
      rest.startsWith('workers/per-event-worker')
    )
      return 'bench';
    return 'sluice';
  }
  return 'other';
}

/** Summarises one profile: self time per function (sample time deltas), grouped and ranked. */
export function summarizeProfile(
  profile: CpuProfile,
  file: string,
  thread: string,
  kinds: CodeKinds,
  topN = 8,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const self = new Map<string, { name: string; where: string; kind: TimeKind; us: number }>();
  const shares = Object.fromEntries(TIME_KINDS.map((k) => [k, 0])) as Record<TimeKind, number>;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    // A sample's time is the gap to the next one (the last sample has none).
    const us = Math.max(0, deltas[i + 1] ?? 0);
    if (!node || us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const kind = kindOf(functionName, url, kinds);
    total += us;
    shares[kind] += us;
    const where = url === '' ? '' : `${url.split('/').at(-1)!.split('?')[0]}:${lineNumber + 1}`;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const key = `${name}\u0000${url}\u0000${lineNumber}`;
    const entry = self.get(key) ?? { name, where, kind, us: 0 };
    entry.us += us;
    self.set(key, entry);
  }
  for (const kind of TIME_KINDS) shares[kind] = total > 0 ? shares[kind] / total : 0;
  const top = [...self.values()]
    .filter((entry) => entry.kind !== 'idle')
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((entry) => ({
      name: entry.name,
      where: entry.where,
      kind: entry.kind,
      selfMs: entry.us / 1000,
      share: total > 0 ? entry.us / total : 0,
    }));
  return { file, thread, sampledMs: total / 1000, shares, top };
}

/** The summaries as text: per thread, the shares by kind, then the top functions. */
export function profileSummaryText(summaries: readonly ProfileSummary[], topN = 5): string {
  const percent = (x: number) => `${(x * 100).toFixed(0)} %`;
  return summaries
    .map((s) => {
      const shares = TIME_KINDS.filter((k) => s.shares[k] >= 0.005)
        .map((k) => `${k} ${percent(s.shares[k])}`)
        .join(', ');
      const top = s.top
        .slice(0, topN)
        .map(
          (f) =>
            `    ${percent(f.share).padStart(5)}  ${f.name}${f.where ? ` (${f.where})` : ''} [${f.kind}]`,
        )
        .join('\n');
      return `${s.thread} — ${s.sampledMs.toFixed(0)} ms sampled: ${shares}\n${top}`;
    })
    .join('\n');
}
