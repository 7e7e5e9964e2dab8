/** Human-facing number formats shared by the charts and the Markdown report (en-US, not the host locale). */

const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const PLAIN = new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 });
const SI_PREFIXES: readonly [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];
/** Shown where a figure is absent or not a finite number. */
export const MISSING = '—';

/** An integer count with thousands separators: `1,234,567`. */
export function formatCount(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? MISSING : GROUPED.format(n);
}

/**
 * Three significant digits (`0.0423`, `1.25`, `12.5`), but whole numbers with separators from 100 up
 * (`412`, `1,234`): digits beyond the third are noise in a latency or a memory figure.
 */
export function formatSignificant(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return MISSING;
  if (n === 0) return '0';
  if (Math.abs(n) >= 99.95) return GROUPED.format(n);
  return n.toPrecision(3);
}

/** As `formatSignificant` without trailing zeros (`0.8`, `4`, `60`), for chart labels. */
export function formatSignificantTrimmed(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return MISSING;
  return Math.abs(n) >= 99.95 ? GROUPED.format(n) : PLAIN.format(Number(n.toPrecision(3)));
}

/** A short SI form with at most three significant digits: `950`, `412 k`, `1.25 M`. */
export function formatCompact(n: number): string {
  if (!Number.isFinite(n)) return MISSING;
  // Round first, so 999 999 becomes `1 M` rather than `1000 k`.
  const rounded = Number(n.toPrecision(3));
  for (const [scale, prefix] of SI_PREFIXES) {
    if (Math.abs(rounded) >= scale) return `${Number((rounded / scale).toPrecision(3))} ${prefix}`;
  }
  return String(rounded);
}

/** A tick value as written on an axis: `0.005`, `20`, `1,000`. */
export function formatPlain(n: number): string {
  return Number.isFinite(n) ? PLAIN.format(n) : MISSING;
}

/** A ratio with a multiplication sign: `3.00×`, `12.5×`, `140×`, and below one `0.25×`, `0.0022×`. */
export function formatRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return MISSING;
  const abs = Math.abs(r);
  let digits: string;
  if (abs >= 100) digits = GROUPED.format(r);
  else if (abs >= 10) digits = r.toFixed(1);
  else if (abs >= 1 || abs === 0) digits = r.toFixed(2);
  else digits = PLAIN.format(Number(r.toPrecision(2)));
  return `${digits}×`;
}
