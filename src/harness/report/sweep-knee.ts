import type { SweepPoint } from '../bench-report.js';

/**
 * Below this rise of p99 across the sweep (highest ÷ lowest) the system never saturated and the
 * curve has no knee: the "knee" of a flat, noisy line would be noise.
 */
export const KNEE_MIN_RISE = 4;

/** Sweep points per system, systems in order of first appearance, points by offered fraction. */
export function sweepBySystem(sweep: readonly SweepPoint[]): Map<string, SweepPoint[]> {
  const bySystem = new Map<string, SweepPoint[]>();
  for (const point of sweep) {
    const points = bySystem.get(point.system) ?? [];
    points.push(point);
    bySystem.set(point.system, points);
  }
  for (const points of bySystem.values()) {
    points.sort((a, b) => a.fraction - b.fraction || a.targetRate - b.targetRate);
  }
  return bySystem;
}

/**
 * The knee of one system's latency curve, found as Kneedle does (Satopää et al., 2011) on the
 * curve as the sweep chart draws it: achieved throughput against log p99, each scaled to 0…1. The
 * knee is the point furthest below the diagonal of that unit square (largest x − y): throughput has
 * grown most while latency has grown least, so past it latency grows faster than throughput.
 * Undefined when p99 rises less than KNEE_MIN_RISE× over the sweep, or with fewer than three points.
 */
export function kneeIndex(points: readonly SweepPoint[]): number | undefined {
  const usable = points
    .map((p, index) => ({ index, x: p.eventsPerSec, y: p.latencyMs.p99 }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.y > 0);
  if (usable.length < 3) return undefined;
  const ys = usable.map((p) => Math.log10(p.y));
  const xs = usable.map((p) => p.x);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (xMax <= xMin || yMax - yMin < Math.log10(KNEE_MIN_RISE)) return undefined;
  let best: { index: number; gap: number } | undefined;
  usable.forEach((p, i) => {
    const gap = (p.x - xMin) / (xMax - xMin) - ((ys[i] ?? yMin) - yMin) / (yMax - yMin);
    if (gap > 0 && (best === undefined || gap > best.gap)) best = { index: p.index, gap };
  });
  return best?.index;
}
