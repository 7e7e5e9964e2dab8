/**
 * Axis scales with "nice" ticks: linear ticks step by 1, 2 or 5 × 10ⁿ from zero; log ticks sit on
 * decades, or on 1-2-5 multiples when the data spans two decades or less.
 */
export interface Scale {
  readonly kind: 'linear' | 'log';
  /** The axis range; it always covers the data. */
  readonly domain: readonly [number, number];
  /** Labelled tick values, ascending, the first and last at the domain ends. */
  readonly ticks: readonly number[];
  /** Unlabelled gridline values (log scales only). */
  readonly minorTicks: readonly number[];
  /** Where a value sits along the axis, 0 at the domain start, 1 at its end (clamped). */
  position(value: number): number;
}

const NICE_MULTIPLES = [1, 2, 5] as const;
/** Beyond this many decades a log axis labels decades only; 1-2-5 labels would crowd it. */
const MAX_DECADES_WITH_1_2_5 = 2;

/** Drops the binary noise of `0.1 * 3` so tick values print and compare as written. */
export function clean(v: number): number {
  return Number(v.toPrecision(12));
}

/** The smallest step of the form 1, 2 or 5 × 10ⁿ that is at least `rough`. */
export function niceStep(rough: number): number {
  const base = 10 ** Math.floor(Math.log10(rough));
  for (const m of NICE_MULTIPLES) if (m * base >= rough * (1 - 1e-9)) return clean(m * base);
  return clean(10 * base);
}

function clamp01(v: number): number {
  return Math.min(Math.max(v, 0), 1);
}

/** A linear scale from zero up to the first nice tick at or above `dataMax`, about `targetTicks` steps. */
export function linearScale(dataMax: number, targetTicks = 5): Scale {
  const max = Number.isFinite(dataMax) && dataMax > 0 ? dataMax : 1;
  const step = niceStep(max / targetTicks);
  // Tolerate division noise (3 / 0.1 is 30.000000000000004), then make sure the top covers max.
  let steps = Math.max(1, Math.ceil(max / step - 1e-9));
  if (clean(steps * step) < max) steps++;
  const ticks = Array.from({ length: steps + 1 }, (_, i) => clean(i * step));
  const top = ticks[ticks.length - 1] ?? step;
  return {
    kind: 'linear',
    domain: [0, top],
    ticks,
    minorTicks: [],
    position: (v) => clamp01(v / top),
  };
}

function oneTwoFive(fromDecade: number, toDecade: number): number[] {
  const out: number[] = [];
  for (let d = fromDecade; d <= toDecade; d++) for (const m of NICE_MULTIPLES) out.push(clean(m * 10 ** d));
  return out;
}

/**
 * A base-10 log scale covering the positive values `dataMin` … `dataMax`. Values at or below the
 * domain start (including zero) are drawn at the start.
 */
export function logScale(dataMin: number, dataMax: number): Scale {
  const min = Number.isFinite(dataMin) && dataMin > 0 ? dataMin : 1;
  const max = Number.isFinite(dataMax) && dataMax > min ? dataMax : min;
  const lowDecade = Math.floor(Math.log10(min) + 1e-9);
  const highDecade = Math.max(Math.ceil(Math.log10(max) - 1e-9), lowDecade + 1);
  let ticks: number[];
  let minorTicks: number[];
  if (highDecade - lowDecade > MAX_DECADES_WITH_1_2_5) {
    ticks = [];
    for (let d = lowDecade; d <= highDecade; d++) ticks.push(clean(10 ** d));
    minorTicks = oneTwoFive(lowDecade, highDecade - 1).filter((v) => !ticks.includes(v));
  } else {
    const candidates = oneTwoFive(lowDecade, highDecade);
    let from = 0;
    for (let i = 0; i < candidates.length; i++) if ((candidates[i] ?? 0) <= min * (1 + 1e-9)) from = i;
    let to = candidates.findIndex((c) => c >= max * (1 - 1e-9));
    if (to <= from) to = from + 1;
    ticks = candidates.slice(from, to + 1);
    minorTicks = [];
  }
  const lo = Math.log10(ticks[0] ?? 1);
  const hi = Math.log10(ticks[ticks.length - 1] ?? 10);
  return {
    kind: 'log',
    domain: [ticks[0] ?? 1, ticks[ticks.length - 1] ?? 10],
    ticks,
    minorTicks,
    position: (v) => (v > 0 ? clamp01((Math.log10(v) - lo) / (hi - lo)) : 0),
  };
}
