import { type CodeKinds, type CpuProfile, kindOf, type TimeKind } from './profile-summary.js';

/**
 * A flame graph of one V8 CPU profile as a self-contained SVG: no script, no stylesheet, no font or
 * image to fetch, so it opens from the report folder in any browser without a network. The root is
 * at the bottom, callees above their callers; a frame's width is its total time (self + callees),
 * its colour the kind of code (profile-summary.ts), its tooltip (`<title>`) the function, where it
 * is and its time. Idle time is left out: the graph is where the CPU went.
 */

const WIDTH = 1200;
const ROW = 17;
const TOP = 40;
/** Frames narrower than this many pixels are left out, with what they called. */
const MIN_WIDTH = 0.3;
const CHAR_PX = 6.5;

const COLOURS: Record<TimeKind, string> = {
  transform: '#f0a030',
  sink: '#5b8fd9',
  sluice: '#59b36b',
  blocked: '#b0b0b0',
  bench: '#a77bd1',
  gc: '#e0564f',
  idle: '#eeeeee',
  program: '#cccccc',
  other: '#e8d46a',
};

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Frame {
  name: string;
  where: string;
  kind: TimeKind;
  totalUs: number;
  children: Frame[];
}

/** The profile's call tree with each frame's total time, idle left out. */
function callTree(profile: CpuProfile, kinds: CodeKinds): Frame | undefined {
  type RawNode = CpuProfile['nodes'][number] & { children?: number[] };
  const nodes = profile.nodes as RawNode[];
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const us = Math.max(0, deltas[i + 1] ?? 0);
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + us);
  }
  const childIds = new Set(nodes.flatMap((node) => node.children ?? []));
  const root = nodes.find((node) => !childIds.has(node.id));
  if (!root) return undefined;
  const frames = new Map<number, Frame>();
  // Post-order without recursion: a profile can be thousands of frames deep.
  const stack: [RawNode, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [node, visited] = stack.pop()!;
    if (!visited) {
      stack.push([node, true]);
      for (const id of node.children ?? []) {
        const child = byId.get(id);
        if (child) stack.push([child, false]);
      }
      continue;
    }
    const { functionName, url, lineNumber } = node.callFrame;
    const kind = kindOf(functionName, url, kinds);
    const children = (node.children ?? [])
      .map((id) => frames.get(id))
      .filter((f): f is Frame => f !== undefined && f.kind !== 'idle' && f.totalUs > 0);
    const totalUs =
      (kind === 'idle' ? 0 : (self.get(node.id) ?? 0)) + children.reduce((n, c) => n + c.totalUs, 0);
    frames.set(node.id, {
      name: functionName === '' ? '(anonymous)' : functionName,
      where: url === '' ? '' : `${url.split('/').at(-1)!.split('?')[0]}:${lineNumber + 1}`,
      kind,
      totalUs,
      children,
    });
  }
  return frames.get(root.id);
}

/** The SVG of one profile's flame graph, titled `title`. */
export function flameGraphSvg(profile: CpuProfile, title: string, kinds: CodeKinds): string {
  const root = callTree(profile, kinds);
  const total = root?.totalUs ?? 0;
  const rects: { x: number; depth: number; width: number; frame: Frame }[] = [];
  let maxDepth = 0;
  if (root && total > 0) {
    const scale = WIDTH / total;
    const queue: { frame: Frame; x: number; depth: number }[] = [{ frame: root, x: 0, depth: 0 }];
    while (queue.length > 0) {
      const { frame, x, depth } = queue.pop()!;
      const width = frame.totalUs * scale;
      if (width < MIN_WIDTH) continue;
      rects.push({ x, depth, width, frame });
      if (depth > maxDepth) maxDepth = depth;
      let childX = x;
      for (const child of frame.children) {
        queue.push({ frame: child, x: childX, depth: depth + 1 });
        childX += child.totalUs * scale;
      }
    }
  }
  const height = TOP + (maxDepth + 1) * ROW + 30;
  const bottom = height - 30;
  const parts = rects.map(({ x, depth, width, frame }) => {
    const y = bottom - (depth + 1) * ROW;
    const ms = frame.totalUs / 1000;
    const share = total > 0 ? (frame.totalUs / total) * 100 : 0;
    const label = `${frame.name}${frame.where ? ` (${frame.where})` : ''}`;
    const tip = `${label} — ${ms.toFixed(1)} ms, ${share.toFixed(1)} % [${frame.kind}]`;
    const fits = Math.floor((width - 4) / CHAR_PX);
    const text =
      fits >= 3
        ? `<text x="${(x + 2).toFixed(2)}" y="${y + ROW - 5}">${escapeXml(
            frame.name.length <= fits ? frame.name : `${frame.name.slice(0, fits - 1)}…`,
          )}</text>`
        : '';
    return (
      `<g><title>${escapeXml(tip)}</title><rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" ` +
      `height="${ROW - 1}" fill="${COLOURS[frame.kind]}" rx="1"/>${text}</g>`
    );
  });
  const legend = (Object.keys(COLOURS) as TimeKind[])
    .filter((k) => k !== 'idle')
    .map(
      (k, i) =>
        `<rect x="${i * 110}" y="${bottom + 10}" width="10" height="10" fill="${COLOURS[k]}"/><text x="${i * 110 + 14}" y="${bottom + 19}">${k}</text>`,
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="0" y="16" font-size="14">${escapeXml(title)}</text>`,
    `<text x="0" y="32">${(total / 1000).toFixed(0)} ms of CPU sampled (idle left out); hover a frame for its time</text>`,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
